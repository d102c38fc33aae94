// SPDX-License-Identifier: GPL-2.0
/* Clean: a list of kmalloc'ed nodes, every one freed in exit; a temporary freed in init. */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/list.h>

struct node {
	struct list_head list;
	int value;
	char *label;
};

static LIST_HEAD(nodes);

static int __init clean_heap_init(void)
{
	char *tmp = kmalloc(16, GFP_KERNEL);
	int i;

	if (!tmp)
		return -ENOMEM;
	for (i = 0; i < 4; i++) {
		struct node *n = kzalloc(sizeof(*n), GFP_KERNEL);

		if (!n)
			goto out;
		n->value = i;
		n->label = kasprintf(GFP_KERNEL, "node%d", i);
		list_add_tail(&n->list, &nodes);
	}
	snprintf(tmp, 16, "%d nodes", i);
	pr_info("clean_heap: %s\n", tmp);
out:
	kfree(tmp);
	return 0;
}

static void __exit clean_heap_exit(void)
{
	struct node *n, *next;

	list_for_each_entry_safe(n, next, &nodes, list) {
		list_del(&n->list);
		kfree(n->label);
		kfree(n);
	}
	pr_info("clean_heap: freed\n");
}

module_init(clean_heap_init);
module_exit(clean_heap_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodsim sample: heap use with nothing leaked or misused");
