/*
 * common.c - a hobby module with a tentative definition compiled with
 * -fcommon, so `shared_counter` is emitted as an SHN_COMMON symbol instead
 * of being placed in .bss.
 *
 * A relocatable object with a COMMON symbol has no section that holds the
 * variable: whoever loads it must allocate the storage (st_value is the
 * alignment, st_size the size).  The seed 004 loader only knows
 * "st_shndx == 0 means kernel symbol, anything else is a section index",
 * so it treats SHN_COMMON (0xfff2) as a section index and reads past the
 * section header table.  The Linux loader refuses such modules outright
 * ("please compile with -fno-common").
 */
#include "module.h"

int shared_counter;	/* tentative definition: COMMON under -fcommon */

static int common_init(void)
{
	shared_counter++;
	monitor_write(shared_counter == 1 ? "common: first load\n"
					  : "common: counter was not zero\n");
	return 0;
}

static void common_exit(void)
{
	shared_counter--;
	monitor_write("common: exit\n");
}

module_t this_module THIS_MODULE_SECTION = {
	.init = common_init,
	.exit = common_exit,
};
