// SPDX-License-Identifier: GPL-2.0
/*
 * nx_exec - init calls a function pointer that points into .data.
 *
 * Module data is mapped non-executable, so the instruction fetch faults:
 * "kernel tried to execute NX-protected page - exploit attempt? (uid: 0)",
 * "#PF: supervisor instruction fetch in kernel mode",
 * "#PF: error_code(0x0011) - permissions violation".
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

/* x86 "xor eax,eax; ret": harmless code, but in a data page */
static unsigned char payload[16] = { 0x31, 0xc0, 0xc3 };

static int __init nx_exec_init(void)
{
	int (* volatile fn)(void) = (int (*)(void))payload;

	pr_info("nx_exec: calling into .data\n");
	return fn();
}

static void __exit nx_exec_exit(void)
{
}

module_init(nx_exec_init);
module_exit(nx_exec_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Oopses on load: executes a data page (NX)");
