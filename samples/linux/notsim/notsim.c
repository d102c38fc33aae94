// SPDX-License-Identifier: GPL-2.0
/*
 * notsim - a student's module that keeps keys in an rbtree: it calls rb_insert_color, a
 * kernel library function. Where the simulator cannot run a kernel function, the run must
 * stop there and say so, never go on as if it had returned 0 (the root would then be key 1,
 * where the real kernel's rebalancing makes it key 2).
 *
 * insmod notsim.ko            -> init inserts keys 1, 2, 3 and prints the root's key (2)
 * insmod notsim.ko in_exit=1  -> init only prints; exit inserts and prints
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/rbtree.h>

static bool in_exit;
module_param(in_exit, bool, 0444);
MODULE_PARM_DESC(in_exit, "fill the tree in exit instead of init");

struct item {
	struct rb_node node;
	int key;
};

static struct rb_root root = RB_ROOT;
static struct item items[3] = { { .key = 1 }, { .key = 2 }, { .key = 3 } };

static void fill(const char *when)
{
	int i;

	pr_info("notsim: %s: inserting %d keys\n", when, (int)ARRAY_SIZE(items));
	for (i = 0; i < ARRAY_SIZE(items); i++) {
		struct rb_node **link = &root.rb_node, *parent = NULL;

		while (*link) {
			parent = *link;
			if (items[i].key < rb_entry(parent, struct item, node)->key)
				link = &parent->rb_left;
			else
				link = &parent->rb_right;
		}
		rb_link_node(&items[i].node, parent, link);
		rb_insert_color(&items[i].node, &root);
	}
	pr_info("notsim: root key %d\n", rb_entry(root.rb_node, struct item, node)->key);
}

static int __init notsim_init(void)
{
	if (in_exit)
		pr_info("notsim: init\n");
	else
		fill("init");
	return 0;
}

static void __exit notsim_exit(void)
{
	if (in_exit)
		fill("exit");
	pr_info("notsim: exit\n");
}

module_init(notsim_init);
module_exit(notsim_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Calls rb_insert_color: kmodsim must stop there if it cannot run it");
