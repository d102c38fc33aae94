// SPDX-License-Identifier: GPL-2.0
/* A leak in exit: init keeps the object in a global, exit forgets to kfree it. */
#include <linux/module.h>
#include <linux/slab.h>

struct record {
	int id;
	char name[28];
	struct record *next;
};

static struct record *head;

static int __init leak_exit_init(void)
{
	int i;

	for (i = 0; i < 2; i++) {
		struct record *r = kzalloc(sizeof(*r), GFP_KERNEL);

		if (!r)
			return -ENOMEM;
		r->id = i;
		snprintf(r->name, sizeof(r->name), "record %d", i);
		r->next = head;
		head = r;
	}
	pr_info("leak_exit: two records\n");
	return 0;
}

static void __exit leak_exit_exit(void)
{
	/* only the first one is freed: the second is still pointed to by head->next */
	struct record *r = head;

	head = NULL;
	pr_info("leak_exit: freeing %s\n", r->name);
	kfree(r);
}

module_init(leak_exit_init);
module_exit(leak_exit_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodsim sample: exit frees one of two objects");
