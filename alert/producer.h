/*
 * producer.h - more than one thread formatting lines for one writer
 * (alert.c), and waiting for the output thread.
 *
 * The public calls of sw_alert.h (sw_alert_finding, _flow, _stats,
 * _set_pcap_filename) format on the calling thread with the writer's own
 * producer state; they must come from one thread at a time.  Each further
 * formatting thread (a --workers dissector) takes a producer of its own:
 * its own pcap_filename, address-text cache and line buffer.  Every
 * producer feeds the same queue, so the run keeps one chain.
 */
#ifndef SW_PRODUCER_H
#define SW_PRODUCER_H

#include "sw_alert.h"

struct sw_alert_prod;

/* A new producer for a (NULL when out of memory).  Call before the thread that uses it starts. */
struct sw_alert_prod *sw_alert_prod_new(struct sw_alert *a);
/* Its counters (strings cut, queue waits) stay in the writer's totals.  After its thread ended. */
void sw_alert_prod_free(struct sw_alert_prod *p);

void sw_alert_prod_set_pcap_filename(struct sw_alert_prod *p, const char *name);
void sw_alert_prod_finding(struct sw_alert_prod *p, const struct sw_finding *f);
void sw_alert_prod_flow(struct sw_alert_prod *p, const struct sw_flow_info *fi);

/*
 * Waits until the output thread has handled every line queued before this
 * call (written, buffered or counted lost exactly as a writer on the
 * calling thread would have).  Tests call it before they look at the file.
 */
void sw_alert_sync(struct sw_alert *a);

#endif
