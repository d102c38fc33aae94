// SPDX-License-Identifier: GPL-2.0
/*
 * license_proprietary - a module that declares a non-GPL licence.
 *
 * (The source is GPL like the rest of the samples; only the MODULE_LICENSE
 * string matters here.)  Loading it taints the kernel with P
 * (TAINT_PROPRIETARY_MODULE) and prints "module license 'Proprietary'
 * taints kernel."  It may use only plain EXPORT_SYMBOL symbols: modpost
 * rejects a proprietary module that uses GPL-only ones, and so does the
 * loader.  _printk is a plain export.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int __init license_proprietary_init(void)
{
	pr_info("license_proprietary: loaded, kernel is now tainted\n");
	return 0;
}

static void __exit license_proprietary_exit(void)
{
	pr_info("license_proprietary: unloaded\n");
}

module_init(license_proprietary_init);
module_exit(license_proprietary_exit);

MODULE_LICENSE("Proprietary");
MODULE_AUTHOR("kmodsim samples");
MODULE_DESCRIPTION("Declares a proprietary licence to taint the kernel");
