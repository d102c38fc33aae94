// SPDX-License-Identifier: GPL-2.0
/*
 * irqlab - what an I/O lab module does with interrupts and ports: request an
 * interrupt line (`irq`, shared with `shared`=1), a port region (`base`,
 * `len` ports) and read and write the ports. The interrupt handler counts
 * what it gets and says where it runs. rmmod frees both.
 */
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/module.h>

static int irq = 7;
module_param(irq, int, 0444);
static int shared = 1;
module_param(shared, int, 0444);
static int base = 0x300;
module_param(base, int, 0444);
static int len = 8;
module_param(len, int, 0444);

static int dev_id;
static int count;
static bool have_irq;
static struct resource *region;

static irqreturn_t irqlab_handler(int irq_, void *dev)
{
	count++;
	pr_info("irqlab: interrupt %d, count %d, in_hardirq=%d dev=%d\n", irq_, count,
		!!in_hardirq(), dev == &dev_id);
	return IRQ_HANDLED;
}

static int __init irqlab_init(void)
{
	int ret;

	ret = request_irq(irq, irqlab_handler, shared ? IRQF_SHARED : 0, "irqlab", &dev_id);
	pr_info("irqlab: request_irq(%d) = %d\n", irq, ret);
	have_irq = ret == 0;
	region = request_region(base, len, "irqlab");
	pr_info("irqlab: request_region(%#x, %d) %s\n", base, len, region ? "ok" : "busy");
	if (region) {
		outb(0x5a, base);
		pr_info("irqlab: inb(%#x) = %#x inw = %#x inl = %#x\n", base, inb(base),
			inw(base), inl(base));
	}
	return 0;
}

static void __exit irqlab_exit(void)
{
	if (region)
		release_region(base, len);
	if (have_irq)
		free_irq(irq, &dev_id);
	pr_info("irqlab: exit after %d interrupts\n", count);
}

module_init(irqlab_init);
module_exit(irqlab_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("interrupt lines and I/O ports as an I/O lab uses them");
