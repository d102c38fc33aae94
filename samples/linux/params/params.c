// SPDX-License-Identifier: GPL-2.0
/*
 * params - one module parameter of every standard type.
 *
 * Each module_param() puts a struct kernel_param in the __param section
 * (name, ops, perm, pointer to the variable) and a "parmtype=name:type"
 * string in .modinfo; MODULE_PARM_DESC adds "parm=name:description".
 * The permissions decide what shows up under /sys/module/params/parameters:
 * 0 means "not in sysfs at all".
 *
 * Example:
 *   insmod params.ko p_int=-7 p_charp=tired p_bool=n p_ints=1,2,3 \
 *          p_names=a,b p_string="with spaces"
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

static unsigned char p_byte = 0xfe;
module_param(p_byte, byte, 0444);
MODULE_PARM_DESC(p_byte, "An unsigned char (byte)");

static short p_short = -300;
module_param(p_short, short, 0644);
MODULE_PARM_DESC(p_short, "A signed short");

static unsigned short p_ushort = 65000;
module_param(p_ushort, ushort, 0600);
MODULE_PARM_DESC(p_ushort, "An unsigned short");

static int p_int = -42;
module_param(p_int, int, 0644);
MODULE_PARM_DESC(p_int, "A signed int");

static unsigned int p_uint = 4000000000U;
module_param(p_uint, uint, 0444);
MODULE_PARM_DESC(p_uint, "An unsigned int");

static long p_long = -1234567890123L;
module_param(p_long, long, 0);
MODULE_PARM_DESC(p_long, "A signed long (not in sysfs: perm 0)");

static unsigned long p_ulong = 18000000000000000000UL;
module_param(p_ulong, ulong, 0444);
MODULE_PARM_DESC(p_ulong, "An unsigned long");

static unsigned long long p_ullong = 0x0123456789abcdefULL;
module_param(p_ullong, ullong, 0600);
MODULE_PARM_DESC(p_ullong, "An unsigned long long");

static unsigned int p_hexint = 0xcafe;
module_param(p_hexint, hexint, 0644);
MODULE_PARM_DESC(p_hexint, "An unsigned int shown in hex in sysfs");

static char *p_charp = "the worm";
module_param(p_charp, charp, 0);
MODULE_PARM_DESC(p_charp, "A string pointer (charp), not in sysfs");

static bool p_bool = true;
module_param(p_bool, bool, 0644);
MODULE_PARM_DESC(p_bool, "A bool: y/n/1/0");

static bool p_invbool;
module_param(p_invbool, invbool, 0444);
MODULE_PARM_DESC(p_invbool, "An inverted bool: p_invbool=y stores false");

static int p_bint = 1;
module_param(p_bint, bint, 0600);
MODULE_PARM_DESC(p_bint, "An int that only takes boolean values (bint)");

static char p_string[16] = "fixed buffer";
module_param_string(p_string, p_string, sizeof(p_string), 0644);
MODULE_PARM_DESC(p_string, "A string copied into a 16-byte buffer");

static int p_ints[4] = { 10, 20 };
static unsigned int n_ints = 2;
module_param_array(p_ints, int, &n_ints, 0444);
MODULE_PARM_DESC(p_ints, "Up to 4 ints, comma separated");

static char *p_names[3] = { "alpha" };
static unsigned int n_names = 1;
module_param_array(p_names, charp, &n_names, 0600);
MODULE_PARM_DESC(p_names, "Up to 3 strings, comma separated");

static int __init params_init(void)
{
	unsigned int i;

	pr_info("params: byte=%u short=%d ushort=%u\n",
		p_byte, p_short, p_ushort);
	pr_info("params: int=%d uint=%u long=%ld ulong=%lu ullong=%llu\n",
		p_int, p_uint, p_long, p_ulong, p_ullong);
	pr_info("params: hexint=0x%x charp=%s\n", p_hexint, p_charp);
	pr_info("params: bool=%d invbool=%d bint=%d\n",
		p_bool, p_invbool, p_bint);
	pr_info("params: string=\"%s\"\n", p_string);
	for (i = 0; i < n_ints; i++)
		pr_info("params: ints[%u]=%d\n", i, p_ints[i]);
	for (i = 0; i < n_names; i++)
		pr_info("params: names[%u]=%s\n", i, p_names[i]);
	return 0;
}

static void __exit params_exit(void)
{
	pr_info("params: exit\n");
}

module_init(params_init);
module_exit(params_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kmodsim samples");
MODULE_DESCRIPTION("One module parameter of every standard type");
