// SPDX-License-Identifier: GPL-2.0
/*
 * libcalls: a module that leans on the kernel library, as a student's would.
 * sort() an array, keep nodes in an rbtree (rb_insert_color, rb_first/rb_next,
 * rb_erase), count bits (bitmap_weight), parse numbers (kstrtoint, with bad
 * input too), sscanf a line, list_sort a list, crc32 a buffer, bsearch it.
 * Every result is printed, so a wrong answer is a visible one.
 *
 * bench=N (bench/kernelcode.py) instead repeats each family N times and prints
 * one checksum line per family: the same calls timed on kernel code and Python.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/sort.h>
#include <linux/bsearch.h>
#include <linux/rbtree.h>
#include <linux/bitmap.h>
#include <linux/list.h>
#include <linux/list_sort.h>
#include <linux/slab.h>
#include <linux/crc32.h>
#include <linux/string.h>

static unsigned long bench;
module_param(bench, ulong, 0444);
MODULE_PARM_DESC(bench, "repeat each library family this many times (benchmark)");
static int oops;
module_param(oops, int, 0444);
MODULE_PARM_DESC(oops, "1: hand rb_first() a bad root (the oops is in the kernel's code); "
		 "2: sort() with a cmp that faults (the oops is in ours, called from sort_r)");
static unsigned int bench_bits = 4096;
module_param(bench_bits, uint, 0444);

static int vals[] = { 42, -7, 19, 3, 88, 0, -120, 57, 19, 1000, 5, -3 };

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static int compares;

/* oops=2: the fifth comparison reads through a NULL pointer */
static noinline int cmp_bad(const void *a, const void *b)
{
	const int *pa = ++compares == 5 ? NULL : a;

	return cmp_int(pa + (compares == 5 ? 4 : 0), b);
}

static void show(const char *what, const int *v, int n)
{
	char buf[160];
	int i, len = 0;

	for (i = 0; i < n; i++)
		len += scnprintf(buf + len, sizeof(buf) - len, " %d", v[i]);
	pr_info("libcalls: %s:%s\n", what, buf);
}

struct item {
	struct rb_node node;
	struct list_head link;
	int key;
};

static struct rb_root tree = RB_ROOT;

static void tree_insert(struct item *it)
{
	struct rb_node **p = &tree.rb_node, *parent = NULL;

	while (*p) {
		struct item *cur = rb_entry(*p, struct item, node);

		parent = *p;
		p = it->key < cur->key ? &(*p)->rb_left : &(*p)->rb_right;
	}
	rb_link_node(&it->node, parent, p);
	rb_insert_color(&it->node, &tree);
}

static int cmp_item(void *priv, const struct list_head *a, const struct list_head *b)
{
	return list_entry(a, struct item, link)->key - list_entry(b, struct item, link)->key;
}

static struct item items[ARRAY_SIZE(vals)];

static void do_sort(void)
{
	int v[ARRAY_SIZE(vals)], key = 57, *hit;

	memcpy(v, vals, sizeof(v));
	show("before sort", v, ARRAY_SIZE(v));
	sort(v, ARRAY_SIZE(v), sizeof(int), cmp_int, NULL);
	show("after sort", v, ARRAY_SIZE(v));
	hit = bsearch(&key, v, ARRAY_SIZE(v), sizeof(int), cmp_int);
	pr_info("libcalls: bsearch 57 -> index %ld\n", hit ? (long)(hit - v) : -1L);
}

static void do_rbtree(void)
{
	struct rb_node *n;
	int out[ARRAY_SIZE(vals)], i = 0, depth = 0;

	for (i = 0; i < ARRAY_SIZE(vals); i++) {
		items[i].key = vals[i] * 3 % 101;
		tree_insert(&items[i]);
	}
	i = 0;
	for (n = rb_first(&tree); n; n = rb_next(n))
		out[i++] = rb_entry(n, struct item, node)->key;
	show("rbtree in order", out, i);
	for (n = tree.rb_node; n; n = n->rb_left)
		depth++;
	/* the colour is bit 0 of __rb_parent_color: 0 red, 1 black */
	pr_info("libcalls: rbtree root %d, left depth %d, root is %s\n",
		rb_entry(tree.rb_node, struct item, node)->key, depth,
		(tree.rb_node->__rb_parent_color & 1) ? "black" : "red");
	rb_erase(&items[0].node, &tree);
	rb_erase(&items[4].node, &tree);
	i = 0;
	for (n = rb_last(&tree); n; n = rb_prev(n))
		out[i++] = rb_entry(n, struct item, node)->key;
	show("rbtree after erase, reversed", out, i);
}

static void do_bitmap(void)
{
	DECLARE_BITMAP(map, 200);

	bitmap_zero(map, 200);
	bitmap_set(map, 3, 10);
	bitmap_set(map, 64, 70);
	__set_bit(199, map);
	pr_info("libcalls: bitmap_weight %u, first zero %lu, next set after 13 %lu, hweight32 %u\n",
		bitmap_weight(map, 200), find_first_zero_bit(map, 200),
		find_next_bit(map, 200, 13), hweight32(0xf0f0f00f));
	pr_info("libcalls: bitmap %*pbl\n", 200, map);
}

static void do_parse(void)
{
	static const char * const inputs[] = { "123", "-42", "0x1f", "2147483648", "12abc", "", " 7" };
	int i, v, ret, a = 0, b = 0, n;
	unsigned long long u;
	char word[16] = "";

	for (i = 0; i < ARRAY_SIZE(inputs); i++) {
		v = -1;
		ret = kstrtoint(inputs[i], 0, &v);
		pr_info("libcalls: kstrtoint(\"%s\") = %d, value %d\n", inputs[i], ret, v);
	}
	ret = kstrtoull("18446744073709551615", 10, &u);
	pr_info("libcalls: kstrtoull max = %d, %llu\n", ret, u);
	ret = kstrtoull("18446744073709551616", 10, &u);
	pr_info("libcalls: kstrtoull overflow = %d\n", ret);
	n = sscanf("size=640x480 mode=fast", "size=%dx%d mode=%15s", &a, &b, word);
	pr_info("libcalls: sscanf -> %d: %d %d %s\n", n, a, b, word);
	n = sscanf("12 apples", "%d %d", &a, &b);
	pr_info("libcalls: sscanf short -> %d: %d\n", n, a);
}

static void do_list_sort(void)
{
	LIST_HEAD(head);
	struct item *it;
	int out[ARRAY_SIZE(vals)], i = 0;

	for (i = 0; i < ARRAY_SIZE(vals); i++) {
		items[i].key = vals[i];
		list_add_tail(&items[i].link, &head);
	}
	list_sort(NULL, &head, cmp_item);
	i = 0;
	list_for_each_entry(it, &head, link)
		out[i++] = it->key;
	show("list_sort", out, i);
}

static void do_crc(void)
{
	static const char msg[] = "The quick brown fox jumps over the lazy dog";

	pr_info("libcalls: crc32_le %08x, crc32_be %08x, crc32c %08x\n",
		crc32_le(~0, msg, sizeof(msg) - 1) ^ ~0, crc32_be(0, msg, sizeof(msg) - 1),
		__crc32c_le(~0, msg, sizeof(msg) - 1) ^ ~0);
}

static u32 next_rand(u32 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* bench=N: N sorts of 1,000 ints, N*10 rbtree inserts, N kstrtoint, bitmap_weight, sscanf
 * and crc32_le calls, their input made first ("bench ready"); each family prints a
 * checksum when done, so both implementations must agree and the gaps time them */
static int run_bench(void)
{
	unsigned long i, n = bench;
	u32 seed = 2463534242u, crc = 0;
	int *arr, v, a, b;
	long sum = 0;
	unsigned long *map;
	struct item *nodes;
	struct rb_node *rn;
	char *strs, word[16];

	arr = kvmalloc_array(n * 1000, sizeof(int), GFP_KERNEL);
	nodes = kvmalloc_array(n * 10, sizeof(*nodes), GFP_KERNEL);
	strs = kvmalloc_array(n * 2, 32, GFP_KERNEL);
	map = bitmap_zalloc(bench_bits, GFP_KERNEL);
	if (!arr || !nodes || !strs || !map)
		return -ENOMEM;
	for (i = 0; i < n * 1000; i++)
		arr[i] = next_rand(&seed) % 100000;
	for (i = 0; i < n * 10; i++)
		nodes[i].key = next_rand(&seed) % 1000000;
	for (i = 0; i < n; i++) {
		snprintf(strs + 64 * i, 32, i % 7 ? "%lu" : "%lux", i * 7919);
		snprintf(strs + 64 * i + 32, 32, "%lu %lu w%lu", i, i * 3, i % 100);
	}
	pr_info("libcalls: bench ready\n");
	for (i = 0; i < n; i++) {
		sort(arr + 1000 * i, 1000, sizeof(int), cmp_int, NULL);
		sum += arr[1000 * i] + arr[1000 * i + 999] + arr[1000 * i + 500];
	}
	pr_info("libcalls: bench sort x%lu: %ld\n", n, sum);
	for (i = 0; i < n * 10; i++)
		tree_insert(&nodes[i]);
	sum = 0;
	for (rn = rb_first(&tree); rn; rn = rb_next(rn))
		sum = sum * 31 + rb_entry(rn, struct item, node)->key;
	pr_info("libcalls: bench rb_insert_color x%lu: %ld\n", n * 10, sum);
	tree = RB_ROOT;
	sum = 0;
	for (i = 0; i < n; i++)
		sum += kstrtoint(strs + 64 * i, 10, &v) ? -1 : v;
	pr_info("libcalls: bench kstrtoint x%lu: %ld\n", n, sum);
	sum = 0;
	for (i = 0; i < n; i++) {
		map[i % BITS_TO_LONGS(bench_bits)] ^= (unsigned long)arr[i] << (i % 32);
		sum += bitmap_weight(map, bench_bits);
	}
	pr_info("libcalls: bench bitmap_weight x%lu: %ld\n", n, sum);
	for (i = 0; i < n; i++)
		crc = crc32_le(crc, (const u8 *)arr, 1000 * sizeof(int));
	pr_info("libcalls: bench crc32_le x%lu: %08x\n", n, crc);
	sum = 0;
	for (i = 0; i < n; i++)
		sum += sscanf(strs + 64 * i + 32, "%d %d %15s", &a, &b, word) + a + b + word[1];
	pr_info("libcalls: bench sscanf x%lu: %ld\n", n, sum);
	bitmap_free(map);
	kvfree(strs);
	kvfree(nodes);
	kvfree(arr);
	return 0;
}

static int __init libcalls_init(void)
{
	if (bench)
		return run_bench();
	if (oops == 2) {
		int v[ARRAY_SIZE(vals)];

		memcpy(v, vals, sizeof(v));
		sort(v, ARRAY_SIZE(v), sizeof(int), cmp_bad, NULL);
		return 0;
	}
	if (oops) {
		struct rb_root *bad = (struct rb_root *)16;

		pr_info("libcalls: rb_first(%px)\n", bad);
		pr_info("libcalls: -> %px\n", rb_first(bad));
		return 0;
	}
	do_sort();
	do_rbtree();
	do_bitmap();
	do_parse();
	do_list_sort();
	do_crc();
	return 0;
}

static void __exit libcalls_exit(void)
{
	pr_info("libcalls: bye\n");
}

module_init(libcalls_init);
module_exit(libcalls_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kernel library calls: sort, rbtree, bitmap, kstrto*, sscanf, list_sort, crc32");
