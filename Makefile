# SPDX-License-Identifier: GPL-2.0
#
# gmem_track workbench. This Makefile is the project's, never the kernel's:
# the kernel is built in build/src/work from Debian's linux-source-7.3 plus
# patches/ and the overlay directories (see workbench/config.sh).
#
#   make check        build the check kernel (lockdep, DEBUG_VM, kmemleak), boot
#                     it and run every test   (DEBUG=1: the debug kernel)
#   make bench        build the bench kernel (no debugging) and measure every
#                     guest_memfd design in one boot (SIZE=2G,
#                     SIZES=1G,2G,4G,8G for a size sweep,
#                     PERF=1 adds perf stat/record of the conversions)
#   make harness      only the userspace harness of mm/gmem_track (seconds)
#   make lint         checkpatch --strict and kernel-doc on patches and new files,
#                     line length of the series' commit messages
#   make series       the project as a patch series against the pristine
#                     kernel in build/series/ (CHECK=1 builds every patch)
#   make shell        boot the same kernel with a shell on the console
#   make clean        remove build/ except the unpacked source and ccache
#   make distclean    remove build/ entirely

.PHONY: check bench harness lint series shell clean distclean

check:
	@bash workbench/check.sh check

bench:
	@SIZE=$(SIZE) SIZES=$(SIZES) BENCH_ARGS="$(BENCH_ARGS)" PERF=$(PERF) \
		bash workbench/bench.sh

shell:
	@bash workbench/check.sh shell

harness:
	@bash workbench/deps.sh && bash workbench/source.sh && \
		bash workbench/tree.sh >/dev/null && \
		bash workbench/harness.sh build/harness.tap

lint:
	@bash workbench/lint.sh

series:
	@CHECK=$(CHECK) DOCS=$(DOCS) SUBMITTER="$(SUBMITTER)" \
		SUBJECT_PREFIX="$(SUBJECT_PREFIX)" bash workbench/series.sh

clean:
	rm -rf build/obj build/obj-check build/obj-bench build/obj-debug build/debug build/src/work build/src/touched \
		build/selftests build/initramfs build/*.log build/*.tap \
		build/*.cpio.gz build/summary.txt build/harness

distclean:
	rm -rf build
