# hostile_printk1: printk_flood's width (a 1 GiB field width and precision: vsprintf clamps
# them and warns once each), then %pV trees: depth 12 (4096 x's, cut at the line limit) and
# depth 20 (2^21 nested vsnprintf calls; the line's length, 2^20 + 17, overflows vprintk_store's
# u16 reserve_size: 17 characters are kept). Every load succeeds.
insmod printk_flood.ko mode=width; echo rc=$?
rmmod printk_flood; echo rc=$?
insmod printk_flood.ko mode=tree depth=12; echo rc=$?
rmmod printk_flood; echo rc=$?
insmod printk_flood.ko mode=tree depth=20; echo rc=$?
rmmod printk_flood; echo rc=$?
insmod hello_debug.ko; echo rc=$?
