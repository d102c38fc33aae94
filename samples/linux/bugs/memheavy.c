// SPDX-License-Identifier: GPL-2.0
/* Memory-heavy and correct (bench/checks.py): rounds of allocating arrays, filling,
 * summing and freeing them, all in module code. */
#include <linux/module.h>
#include <linux/slab.h>

static int rounds = 200;
module_param(rounds, int, 0444);

#define OBJS 16
#define WORDS 64

static int __init memheavy_init(void)
{
	unsigned long *objs[OBJS];
	unsigned long sum = 0;
	int r, i, j;

	for (r = 0; r < rounds; r++) {
		for (i = 0; i < OBJS; i++) {
			objs[i] = kmalloc_array(WORDS, sizeof(unsigned long), GFP_KERNEL);
			if (!objs[i])
				return -ENOMEM;
			for (j = 0; j < WORDS; j++)
				WRITE_ONCE(objs[i][j], r + i + j);
		}
		for (i = 0; i < OBJS; i++) {
			for (j = 0; j < WORDS; j++)
				sum += READ_ONCE(objs[i][j]);
			kfree(objs[i]);
		}
	}
	pr_info("memheavy: %d rounds, sum %lu\n", rounds, sum);
	return 0;
}

static void __exit memheavy_exit(void)
{
}

module_init(memheavy_init);
module_exit(memheavy_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodsim sample: many allocations, each filled and read in module code");
