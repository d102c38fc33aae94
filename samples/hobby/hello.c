/*
 * hello.c - the smallest hobby module: the example of seed 004.
 * It prints one line when loaded and one when unloaded.
 */
#include "module.h"

static int hello_init(void)
{
	monitor_write("Hello from hello.ko!\n");
	return 0;
}

static void hello_exit(void)
{
	monitor_write("Goodbye from hello.ko.\n");
}

module_t this_module THIS_MODULE_SECTION = {
	.init = hello_init,
	.exit = hello_exit,
};
