// SPDX-License-Identifier: GPL-2.0
/*
 * importer - uses every symbol exporter.ko exports.
 *
 * Its undefined symbols kmodsim_add, kmodsim_calls, kmodsim_greet and
 * kmodsim_secret are resolved against exporter.ko at load time, so
 * .modinfo says "depends=exporter" and __versions carries their CRCs
 * (modpost read them from exporter's Module.symvers).  kmodsim_secret is
 * in namespace KMODSIM_DEMO, hence MODULE_IMPORT_NS: without it modpost
 * warns and the loader refuses the module.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

#include "../exporter/exporter.h"

static int __init importer_init(void)
{
	int sum = kmodsim_add(40, 2);

	kmodsim_greet("importer");
	pr_info("importer: 40 + 2 = %d, secret = %#lx, calls = %d\n",
		sum, kmodsim_secret(), kmodsim_calls);
	return 0;
}

static void __exit importer_exit(void)
{
	pr_info("importer: unloaded\n");
}

module_init(importer_init);
module_exit(importer_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kmodsim samples");
MODULE_DESCRIPTION("Uses the symbols exported by exporter.ko");
MODULE_IMPORT_NS(KMODSIM_DEMO);
