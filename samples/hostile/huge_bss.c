// SPDX-License-Identifier: GPL-2.0
/*
 * huge_bss - a 1 GiB static array.
 *
 * The file is small (.bss is NOBITS), but the module's core image would
 * be 1 GiB, more than the whole module area (MODULES_VADDR..MODULES_END,
 * 1008 MiB): module_alloc() fails with "vmalloc error: size ...,
 * vm_struct allocation failed" and insmod gets ENOMEM before anything of
 * the module runs.
 */
#include <linux/compiler.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static char big[1UL << 30];

static int __init huge_bss_init(void)
{
	char *p = big;

	OPTIMIZER_HIDE_VAR(p);		/* or gcc drops the array, never read */
	p[0] = 1;
	p[sizeof(big) - 1] = 1;
	pr_info("huge_bss: %lu bytes at %px\n", sizeof(big), p);
	return 0;
}

static void __exit huge_bss_exit(void)
{
}

module_init(huge_bss_init);
module_exit(huge_bss_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Hostile: a 1 GiB .bss");
