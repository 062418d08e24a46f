/* SPDX-License-Identifier: GPL-2.0 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM gmem_track

#if !defined(_TRACE_GMEM_TRACK_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_GMEM_TRACK_H

#include <linux/tracepoint.h>

DECLARE_EVENT_CLASS(gmem_track_chunk,

	TP_PROTO(unsigned long pfn, unsigned int order, int design, bool parked),

	TP_ARGS(pfn, order, design, parked),

	TP_STRUCT__entry(
		__field(unsigned long,	pfn)
		__field(unsigned int,	order)
		__field(int,		design)
		__field(bool,		parked)
	),

	TP_fast_assign(
		__entry->pfn	= pfn;
		__entry->order	= order;
		__entry->design	= design;
		__entry->parked	= parked;
	),

	TP_printk("pfn=%#lx order=%u design=%d parked=%d",
		  __entry->pfn, __entry->order, __entry->design, __entry->parked)
);

DEFINE_EVENT(gmem_track_chunk, gmem_track_chunk_alloc,
	TP_PROTO(unsigned long pfn, unsigned int order, int design, bool parked),
	TP_ARGS(pfn, order, design, parked)
);

DEFINE_EVENT(gmem_track_chunk, gmem_track_chunk_free,
	TP_PROTO(unsigned long pfn, unsigned int order, int design, bool parked),
	TP_ARGS(pfn, order, design, parked)
);

DECLARE_EVENT_CLASS(gmem_track_vmemmap,

	TP_PROTO(unsigned long pfn, unsigned long nr, int pages),

	TP_ARGS(pfn, nr, pages),

	TP_STRUCT__entry(
		__field(unsigned long,	pfn)
		__field(unsigned long,	nr)
		__field(int,		pages)
	),

	TP_fast_assign(
		__entry->pfn	= pfn;
		__entry->nr	= nr;
		__entry->pages	= pages;
	),

	TP_printk("pfn=%#lx nr=%lu vmemmap_pages=%d",
		  __entry->pfn, __entry->nr, __entry->pages)
);

DEFINE_EVENT(gmem_track_vmemmap, gmem_track_depopulate,
	TP_PROTO(unsigned long pfn, unsigned long nr, int pages),
	TP_ARGS(pfn, nr, pages)
);

DEFINE_EVENT(gmem_track_vmemmap, gmem_track_repopulate,
	TP_PROTO(unsigned long pfn, unsigned long nr, int pages),
	TP_ARGS(pfn, nr, pages)
);

/* A granule keeps its vmemmap for deferred depopulation. */
DEFINE_EVENT(gmem_track_vmemmap, gmem_track_defer,
	TP_PROTO(unsigned long pfn, unsigned long nr, int pages),
	TP_ARGS(pfn, nr, pages)
);

TRACE_EVENT(gmem_track_convert,

	TP_PROTO(unsigned long index, unsigned long nr, bool shared, int ret),

	TP_ARGS(index, nr, shared, ret),

	TP_STRUCT__entry(
		__field(unsigned long,	index)
		__field(unsigned long,	nr)
		__field(bool,		shared)
		__field(int,		ret)
	),

	TP_fast_assign(
		__entry->index	= index;
		__entry->nr	= nr;
		__entry->shared	= shared;
		__entry->ret	= ret;
	),

	TP_printk("index=%#lx nr=%lu to=%s ret=%d", __entry->index,
		  __entry->nr, __entry->shared ? "shared" : "private",
		  __entry->ret)
);

#endif /* _TRACE_GMEM_TRACK_H */

/* This part must be outside protection */
#include <trace/define_trace.h>
