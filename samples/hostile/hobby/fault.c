/*
 * fault.c - a hobby module whose init writes through a NULL pointer, and one
 * whose init floods the console (flood.c).
 */
#include "module.h"

static int fault_init(void)
{
	monitor_write("fault: writing to NULL\n");
	*(volatile int *)0 = 1;
	monitor_write("fault: still here\n");
	return 0;
}

static void fault_exit(void)
{
}

module_t this_module THIS_MODULE_SECTION = {
	.init = fault_init,
	.exit = fault_exit,
};
