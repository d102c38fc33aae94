/*
 * counter.c - a hobby module that exercises every relocation shape the
 * i386 hobby loader has to handle:
 *
 *   R_386_PC32  call to the kernel (monitor_write, undefined symbol)
 *   R_386_PC32  call to a global function of this module (counter_step)
 *   R_386_PC32  call to a static function in another section of this
 *               module (weighted_sum in .text.helpers): the target is the
 *               section symbol, the addend (-4) sits in the instruction
 *   (none)      calls to static functions in the same .text: the assembler
 *               resolves them itself, so they carry no relocation at all
 *   R_386_32    absolute address of a string in .rodata.str1.1
 *   R_386_32    absolute address of a constant table in .rodata
 *   R_386_32    absolute address of a variable in .data and in .bss
 *   R_386_32    function pointers stored in .data (a table of operations)
 *   R_386_32    the init/exit pointers in .this_module
 *
 * Two details matter to a loader:
 *   - `ticks` lives in .bss (SHT_NOBITS): it occupies no bytes in the file,
 *     so a loader that relocates sections in place inside the file buffer
 *     (as seed 004 does) points it at whatever follows in the file.
 *   - `step` starts at 3 in .data: a loader that forgets to copy .data, or
 *     copies it after relocating, prints wrong numbers.
 *
 * Output when loaded by a correct loader:
 *   counter: init
 *   counter: double -> 6
 *   counter: add -> 9
 *   counter: square -> 81
 *   counter: ticks = 3
 *   counter: total = 81
 *   counter: weighted = 30
 *
 * and on unload:
 *   counter: exit after ticks = 3
 */
#include "module.h"

/* .data: initialised, writable */
int step = 3;
/* .bss: zero-initialised (-fno-common so it really lands in .bss) */
static unsigned int ticks;
/* .bss too, but global */
int total;

/* .rodata proper (not a merged string section): a constant table */
static const unsigned int weights[4] = { 1, 2, 3, 4 };

/* static, but in its own section: the call from .text needs R_386_PC32 */
__attribute__((noinline, section(".text.helpers")))
static unsigned int weighted_sum(const unsigned int *v, unsigned int n)
{
	unsigned int i, sum = 0;

	for (i = 0; i < n; i++)
		sum += v[i] * weights[i % 4];
	return sum;
}

/* helpers in .text, called only from this file */
static char *format_uint(unsigned int v, char *end)
{
	*--end = '\0';
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

static void print_value(const char *label, unsigned int v)
{
	char buf[12];

	monitor_write("counter: ");
	monitor_write(label);
	monitor_write(format_uint(v, buf + sizeof(buf)));
	monitor_write("\n");
}

/* operations on an int, reached only through the table below */
static int op_double(int x) { return x * 2; }
static int op_add(int x)    { return x + step; }
static int op_square(int x) { return x * x; }

struct op {
	const char *name;	/* R_386_32 -> .rodata string */
	int (*fn)(int);		/* R_386_32 -> .text */
};

/* .data table of pointers: every entry needs an absolute relocation */
struct op ops[] = {
	{ "double -> ", op_double },
	{ "add -> ",    op_add    },
	{ "square -> ", op_square },
};

/* a global function of this module, called from init */
int counter_step(int value, unsigned int i)
{
	ticks++;
	return ops[i].fn(value);
}

static int counter_init(void)
{
	int value = step;
	unsigned int i;

	monitor_write("counter: init\n");
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		value = counter_step(value, i);
		print_value(ops[i].name, (unsigned int)value);
	}
	total = value;
	print_value("ticks = ", ticks);
	print_value("total = ", (unsigned int)total);
	{
		unsigned int v[4] = { 1, 2, 3, 4 };	/* 1+4+9+16 */

		print_value("weighted = ", weighted_sum(v, 4));
	}
	return 0;
}

static void counter_exit(void)
{
	print_value("exit after ticks = ", ticks);
}

module_t this_module THIS_MODULE_SECTION = {
	.init = counter_init,
	.exit = counter_exit,
};
