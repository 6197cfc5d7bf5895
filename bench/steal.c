/*
 * The host's share: CPU time the hypervisor gave to other guests while
 * ours had work ("steal" in /proc/stat). On a shared VM it decides the
 * tail: while the guest does not run, neither the server nor estbench
 * does, requests fall due meanwhile, and at 80% load the queue left behind
 * takes four times as long as the pause to drain. A run's average can look
 * small while one 100 ms window lost most of the CPUs, so estbench reports
 * both.
 */
#include <stdio.h>

#include "estbench.h"

bool
steal_read(struct steal_sample *s)
{
	unsigned long long v[8] = { 0 };
	FILE *f;
	int n;

	if ((f = fopen("/proc/stat", "re")) == NULL)
		return false;
	/* cpu  user nice system idle iowait irq softirq steal ... (all CPUs, USER_HZ ticks) */
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
	    &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n != 8)
		return false;
	s->steal = v[7];
	s->total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
	return true;
}

double
steal_pct(const struct steal_sample *from, const struct steal_sample *to)
{
	unsigned long long total = to->total - from->total;

	return total > 0 ? 100.0 * (double)(to->steal - from->steal) / (double)total : 0;
}
