// SPDX-License-Identifier: GPL-2.0
/*
 * printk_flood - printk asked for far more than it can print.
 *
 * mode=width  "%*s" with a width of 1 GiB and "%.*s" with a precision of
 *             1 GiB: vsprintf clamps both and warns once for each
 *             ("field width ... too large", "precision ... too large");
 *             the record is cut at the 1024-byte line limit
 * mode=tree   a %pV tree `depth` levels deep, each level "%pV%pV" of the
 *             next, the leaves "x": 2^depth leaves, 2^(depth+1) nested
 *             vsnprintf calls for one line of x's, cut at the line limit
 * mode=lines  `count` short lines: the 128 KiB log buffer keeps the last
 *             few thousand
 * mode=chain  a %pV whose arguments hold the same %pV: vsnprintf recurses
 *             until the kernel stack overflows, a panic
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/string.h>

static char *mode = "width";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "width, tree, lines or chain");
static int width = 1 << 30;
module_param(width, int, 0444);
MODULE_PARM_DESC(width, "field width and precision for mode=width");
static int depth = 16;
module_param(depth, int, 0444);
MODULE_PARM_DESC(depth, "levels of the %pV tree (mode=tree, at most 30)");
static int count = 20000;
module_param(count, int, 0444);
MODULE_PARM_DESC(count, "lines to print (mode=lines)");

static struct va_format level[31];

/* level[d] is "%pV%pV" of level[d + 1], twice; level[depth] is "x" */
static noinline void nest(int d, ...)
{
	va_list args;

	va_start(args, d);
	level[d].fmt = d == depth ? "x" : "%pV%pV";
	level[d].va = &args;
	if (d == 0)
		pr_info("printk_flood: [%pV]\n", &level[0]);
	else
		nest(d - 1, &level[d], &level[d]);
	va_end(args);
}

static struct va_format loop;

/* loop's only argument is &loop: each %pV formats loop again */
static noinline void chain(int dummy, ...)
{
	va_list args;

	va_start(args, dummy);
	loop.fmt = "%pV";
	loop.va = &args;
	pr_info("printk_flood: %pV\n", &loop);
	va_end(args);
}

static int __init printk_flood_init(void)
{
	int i;

	pr_info("printk_flood: %s\n", mode);
	if (!strcmp(mode, "width")) {
		pr_info("printk_flood: [%*s]\n", width, "x");
		pr_info("printk_flood: [%.*s]\n", width, "precision");
	} else if (!strcmp(mode, "tree")) {
		if (depth < 0 || depth > 30)
			return -EINVAL;
		nest(depth);
	} else if (!strcmp(mode, "lines")) {
		for (i = 0; i < count; i++)
			pr_info("printk_flood: line %d\n", i);
	} else if (!strcmp(mode, "chain")) {
		chain(0, &loop);
	} else {
		return -EINVAL;
	}
	pr_info("printk_flood: %s done\n", mode);
	return 0;
}

static void __exit printk_flood_exit(void)
{
}

module_init(printk_flood_init);
module_exit(printk_flood_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Hostile: huge printk widths, a %pV tree and chain, a log flood");
