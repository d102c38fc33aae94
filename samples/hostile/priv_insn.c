// SPDX-License-Identifier: GPL-2.0
/*
 * priv_insn - privileged instructions, which a module runs at CPL 0.
 *
 * insn=hlt    waits for the next interrupt and goes on: nothing to report
 * insn=out    outb to port 0x80 (the POST-code port): nothing to report
 * insn=cli    returns from init with interrupts off: do_one_initcall
 *             warns "initcall ... returned with disabled interrupts"
 * insn=tf     sets EFLAGS.TF: the single-step #DB lands in the kernel,
 *             which warns once (exc_debug_kernel) and clears TF
 * insn=int3   a breakpoint nobody set: "int3: 0000 [#1]", insmod killed
 * insn=ud2    an invalid opcode outside __bug_table: "invalid opcode:
 *             0000 [#1]" without a "kernel BUG at" line
 * insn=wrmsr  writes an MSR that does not exist (0x12345678)
 * insn=cr3    loads CR3 with 0: no page tables, a triple fault, the
 *             machine resets (realkernel's QEMU exits: nothing more)
 *
 * Raw instructions, not the kernel's helpers: local_irq_disable(),
 * wrmsr() and write_cr3() are paravirt calls on Debian's kernel.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/string.h>

static char *insn = "ud2";
module_param(insn, charp, 0444);
MODULE_PARM_DESC(insn, "hlt, out, cli, tf, int3, ud2, wrmsr or cr3");

static int __init priv_insn_init(void)
{
	pr_info("priv_insn: %s\n", insn);
	if (!strcmp(insn, "hlt"))
		asm volatile("hlt");
	else if (!strcmp(insn, "out"))
		asm volatile("outb %%al, $0x80" : : "a"(0x42));
	else if (!strcmp(insn, "cli"))
		asm volatile("cli" : : : "memory");
	else if (!strcmp(insn, "tf"))
		asm volatile("pushfq; orq $0x100, (%%rsp); popfq; nop" : : : "memory", "cc");
	else if (!strcmp(insn, "int3"))
		asm volatile("int3");
	else if (!strcmp(insn, "ud2"))
		asm volatile("ud2");
	else if (!strcmp(insn, "wrmsr"))
		asm volatile("wrmsr" : : "c"(0x12345678), "a"(0), "d"(0));
	else if (!strcmp(insn, "cr3"))
		asm volatile("mov %0, %%cr3" : : "r"(0UL) : "memory");
	else
		return -EINVAL;
	pr_info("priv_insn: %s done\n", insn);
	return 0;
}

static void __exit priv_insn_exit(void)
{
	pr_info("priv_insn: exit\n");
}

module_init(priv_insn_init);
module_exit(priv_insn_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Hostile: privileged instructions in init (insn=)");
