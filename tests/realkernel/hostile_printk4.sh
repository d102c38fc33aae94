# hostile_printk4: a %pV tree 30 levels deep (printk_flood mode=tree depth=30): 2^31 nested
# vsnprintf calls for one line, about 45 minutes here. vprintk_store formats with interrupts
# off (printk_enter_irqsave), so no timer runs on the only CPU: no soft-lockup report, no RCU
# stall, a silent machine, insmod never returns. Recorded with REALKERNEL_TIMEOUT=50 (and once
# with the whole console on and 75 s: nothing either).
insmod printk_flood.ko mode=tree depth=30; echo rc=$?
cat /proc/modules
