/*
 * ud2.c - a hobby module whose init executes ud2 (an invalid opcode).
 */
#include "module.h"

static int ud2_init(void)
{
	monitor_write("ud2: here it comes\n");
	__asm__ volatile("ud2");
	return 0;
}

static void ud2_exit(void)
{
}

module_t this_module THIS_MODULE_SECTION = {
	.init = ud2_init,
	.exit = ud2_exit,
};
