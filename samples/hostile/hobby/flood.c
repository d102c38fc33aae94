/*
 * flood.c - a hobby module whose init writes to the console for ever.
 */
#include "module.h"

static int flood_init(void)
{
	for (;;)
		monitor_write("flood: all work and no play makes Jack a dull boy\n");
	return 0;
}

static void flood_exit(void)
{
}

module_t this_module THIS_MODULE_SECTION = {
	.init = flood_init,
	.exit = flood_exit,
};
