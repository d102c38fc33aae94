// SPDX-License-Identifier: GPL-2.0
/* An invalid free: kfree of a pointer into the middle of an object. */
#include <linux/module.h>
#include <linux/slab.h>

struct msg {
	int len;
	int pad;
	char text[56];
};

static int __init invalid_free_init(void)
{
	struct msg *m = kzalloc(sizeof(*m), GFP_KERNEL);
	char *text;

	if (!m)
		return -ENOMEM;
	m->len = strscpy(m->text, "invalid", sizeof(m->text));
	text = m->text;
	pr_info("invalid_free: %s\n", text);
	kfree(text);		/* not the object's start */
	return 0;
}

static void __exit invalid_free_exit(void)
{
}

module_init(invalid_free_init);
module_exit(invalid_free_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kmodsim sample: kfree of a pointer inside an object");
