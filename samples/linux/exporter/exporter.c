// SPDX-License-Identifier: GPL-2.0
/*
 * exporter - exports symbols for importer.ko, one of each kind:
 *
 *   kmodsim_add        EXPORT_SYMBOL         -> __ksymtab
 *   kmodsim_calls      EXPORT_SYMBOL         -> __ksymtab   (a variable)
 *   kmodsim_greet      EXPORT_SYMBOL_GPL     -> __ksymtab_gpl
 *   kmodsim_secret     EXPORT_SYMBOL_NS_GPL  -> __ksymtab_gpl, namespace
 *                      KMODSIM_DEMO (the name goes to __ksymtab_strings
 *                      after the symbol name)
 *
 * On x86-64 each __ksymtab entry is three 32-bit place-relative offsets
 * (value, name, namespace), hence R_X86_64_PC32 relocations.  With
 * CONFIG_MODVERSIONS the CRCs of the exported symbols are stored in
 * __kcrctab / __kcrctab_gpl (one u32 per symbol, in ksymtab order) and in
 * Module.symvers, which importer's build reads through KBUILD_EXTRA_SYMBOLS.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

#include "exporter.h"

int kmodsim_calls;
EXPORT_SYMBOL(kmodsim_calls);

int kmodsim_add(int a, int b)
{
	kmodsim_calls++;
	return a + b;
}
EXPORT_SYMBOL(kmodsim_add);

void kmodsim_greet(const char *who)
{
	kmodsim_calls++;
	pr_info("exporter: hello, %s\n", who);
}
EXPORT_SYMBOL_GPL(kmodsim_greet);

unsigned long kmodsim_secret(void)
{
	kmodsim_calls++;
	return 0x6b6d6f6473696dUL;	/* "kmodsim" */
}
EXPORT_SYMBOL_NS_GPL(kmodsim_secret, KMODSIM_DEMO);

static int __init exporter_init(void)
{
	pr_info("exporter: loaded\n");
	return 0;
}

static void __exit exporter_exit(void)
{
	pr_info("exporter: unloaded after %d calls\n", kmodsim_calls);
}

module_init(exporter_init);
module_exit(exporter_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kmodsim samples");
MODULE_DESCRIPTION("Exports symbols (plain, GPL-only, namespaced) to importer");
