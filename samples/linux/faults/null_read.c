// SPDX-License-Identifier: GPL-2.0
/*
 * null_read - init reads through a NULL pointer, one call down.
 *
 * The load of p->value happens in a helper that is not inlined, so the
 * oops' Call Trace starts with a module frame (null_read_init) before
 * do_one_initcall.  Expected: "BUG: kernel NULL pointer dereference,
 * address: 0000000000000008", "#PF: supervisor read access in kernel mode",
 * "#PF: error_code(0x0000) - not-present page"; insmod is killed.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

struct sample {
	long key;
	long value;
};

/* Stays NULL; volatile so the compiler cannot prove it. */
static struct sample * volatile sample;

/* noipa: no inlining and no IPA-SRA, which would move the load into init */
static __attribute__((noipa)) long read_value(struct sample *s)
{
	return s->value;
}

static int __init null_read_init(void)
{
	long v;

	pr_info("null_read: reading sample->value\n");
	v = read_value(sample);
	pr_info("null_read: read %ld\n", v);	/* never printed */
	return 0;
}

static void __exit null_read_exit(void)
{
}

module_init(null_read_init);
module_exit(null_read_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Oopses on load: NULL pointer read in a helper called by init");
