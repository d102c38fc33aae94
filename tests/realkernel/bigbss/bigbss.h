/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The body of the bigbss modules (tests/realkernel/bigbss.sh): a module declaring a .bss of
 * BSS_SIZE bytes, whose init writes its first and last byte and reads them back.
 *
 * 6.1's module_alloc refuses a core larger than the module area (MODULES_LEN, 1008 MiB)
 * without a word, and vmalloc one of more pages than the machine has (totalram_pages) with
 * warn_alloc's report; anything smaller loads, the kernel giving it real pages. kmodsim
 * must refuse the same ones the same way, and load the others with host memory only for
 * the pages init touches.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static char big[BSS_SIZE];

static int __init bss_init(void)
{
	WRITE_ONCE(big[0], 1);
	WRITE_ONCE(big[BSS_SIZE - 1], 2);
	pr_info("%s: %lu bytes of .bss, first and last byte: %d %d\n", KBUILD_MODNAME,
		(unsigned long)sizeof(big), READ_ONCE(big[0]), READ_ONCE(big[BSS_SIZE - 1]));
	return 0;
}

static void __exit bss_exit(void)
{
	pr_info("%s: unloaded, last byte %d\n", KBUILD_MODNAME, READ_ONCE(big[BSS_SIZE - 1]));
}

module_init(bss_init);
module_exit(bss_exit);
MODULE_LICENSE("GPL");
