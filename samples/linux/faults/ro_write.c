// SPDX-License-Identifier: GPL-2.0
/*
 * ro_write - init writes into the module's own .rodata.
 *
 * The module's read-only data is mapped read-only (module_enable_ro), so
 * the store is a protection fault on a present page: "BUG: unable to handle
 * page fault for address: ffffffffc0...", "#PF: supervisor write access in
 * kernel mode", "#PF: error_code(0x0003) - permissions violation".
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static const char banner[] = "read-only banner";

static int __init ro_write_init(void)
{
	/* volatile: the compiler must emit the store it is told to */
	char * volatile p = (char *)banner;

	pr_info("ro_write: overwriting \"%s\"\n", banner);
	p[0] = 'R';
	pr_info("ro_write: now \"%s\"\n", banner);	/* never printed */
	return 0;
}

static void __exit ro_write_exit(void)
{
}

module_init(ro_write_init);
module_exit(ro_write_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Oopses on load: write to the module's own .rodata");
