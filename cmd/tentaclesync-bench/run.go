package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
)

// table collects markdown rows.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(t.header, " | "))
	fmt.Fprintf(w, "|%s\n", strings.Repeat(" --- |", len(t.header)))
	for _, r := range t.rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
	fmt.Fprintln(w)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func (b *bench) run(w io.Writer) error {
	fmt.Fprintf(w, "tentaclesync-bench, %s, %s, %d CPUs, spool on %s\n\n",
		b.startedAt.UTC().Format("2006-01-02 15:04 MST"), runtime.Version(), runtime.NumCPU(), b.diskDir)

	limits := &table{header: []string{"limit (same run)", "measured"}}
	pulls := &table{header: []string{"pull", "connections", "files", "seconds", "files/s", "MB/s", "compared with", "target", ""}}
	nagle := &table{header: []string{"server (4 KiB files, 1 connection, spool on tmpfs)", "files", "ms per file", "ratio", "target", ""}}
	mem := &table{header: []string{"peak RSS of one gather (child process, 8 connections)", "files", "seconds", "peak RSS", "target", ""}}
	raw, disk, err := b.limits(limits)
	if err != nil {
		return err
	}
	for _, section := range []struct {
		name string
		run  func() error
	}{
		{"small", func() error { return b.small(pulls) }},
		{"tmpfs", func() error { return b.tmpfs(pulls) }},
		{"big", func() error { return b.big(pulls, raw, disk) }},
		{"rtt", func() error { return b.rtt(pulls) }},
		{"nagle", func() error { return b.nagle(nagle) }},
		{"rss", func() error { return b.memory(mem) }},
	} {
		if b.only != "" && !strings.Contains(b.only, section.name) {
			continue
		}
		if err := section.run(); err != nil {
			return err
		}
	}
	for _, t := range []*table{limits, pulls, nagle, mem} {
		t.write(w)
	}
	fmt.Fprintf(w, "%.0f s in all.\n", time.Since(b.startedAt).Seconds())
	return nil
}

// limits measures the link and the disk alone.
func (b *bench) limits(limits *table) (raw, disk float64, err error) {
	sz := b.sz
	progress("raw loopback copy of %d MiB", sz.rawBytes>>20)
	// The best of three: the limit is what the machine can do, and other
	// work on it only ever makes a measurement slower.
	for range 3 {
		r, err := rawLoopback(sz.rawBytes)
		if err != nil {
			return 0, 0, fmt.Errorf("raw loopback: %w", err)
		}
		raw = max(raw, r)
	}
	limits.add("raw loopback TCP copy, 64 KiB writes (best of 3)", fmt.Sprintf("%.0f MB/s", raw))
	progress("disk write of %d MiB", sz.rawBytes>>20)
	disk, err = diskWrite(b.diskDir, sz.rawBytes)
	if err != nil {
		return 0, 0, fmt.Errorf("disk write: %w", err)
	}
	limits.add("spool disk: one file, 64 KiB writes, fsync", fmt.Sprintf("%.0f MB/s", disk))
	for _, writers := range []int{1, 8} {
		progress("spool ceiling, %d writers", writers)
		dir, drop, err := freshDir(b.diskDir, "ceiling")
		if err != nil {
			return 0, 0, err
		}
		rate, err := spoolCeiling(dir, sz.ceiling, writers, sz.smallSize)
		drop()
		if err != nil {
			return 0, 0, fmt.Errorf("spool ceiling: %w", err)
		}
		limits.add(fmt.Sprintf("spool disk: durable 4 KiB files (spool package, no network), %d writer(s)", writers),
			fmt.Sprintf("%.0f files/s", rate))
	}
	return raw, disk, nil
}

func (b *bench) small(pulls *table) error {
	sz := b.sz
	for _, conns := range []int{1, 4, 8} {
		if err := b.pullRow(pulls, "4 KiB, loopback", pullCase{files: sz.smallFiles, size: sz.smallSize, conns: conns, spool: b.diskDir},
			func(r pullResult) (string, string, string) {
				return "", "≥ 8,000 files/s", verdict(r.filesPerSec() >= 8000)
			}); err != nil {
			return err
		}
	}
	return nil
}

// tmpfs pulls the small files into a spool where fsync costs nothing: the
// path without the disk.
func (b *bench) tmpfs(pulls *table) error {
	sz := b.sz
	for _, conns := range []int{1, 4, 8} {
		if err := b.pullRow(pulls, "4 KiB, loopback, spool on tmpfs (not durable: the path without the disk)",
			pullCase{files: sz.smallFiles, size: sz.smallSize, conns: conns, spool: b.fastDir},
			func(r pullResult) (string, string, string) { return "", "", "" }); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) big(pulls *table, raw, disk float64) error {
	sz := b.sz
	for _, block := range []int{0, 64 << 10} {
		what := fmt.Sprintf("%d MiB, loopback", sz.bigSize>>20)
		if block != 0 {
			what += fmt.Sprintf(", server in %d KiB blocks (not reference-faithful)", block>>10)
		}
		for _, conns := range []int{1, 4, 8} {
			if err := b.pullRow(pulls, what,
				pullCase{files: sz.bigFiles, size: sz.bigSize, conns: conns, block: block, spool: b.diskDir},
				func(r pullResult) (string, string, string) {
					ratio := r.mbPerSec() / raw
					cmp := fmt.Sprintf("%.0f%% of raw loopback, %.0f%% of disk write", 100*ratio, 100*r.mbPerSec()/disk)
					if block != 0 {
						return cmp, "", ""
					}
					return cmp, "≥ 70% of raw loopback", verdict(ratio >= 0.7)
				}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *bench) rtt(pulls *table) error {
	sz := b.sz
	real, err := proxyRTT(sz.rtt)
	if err != nil {
		return fmt.Errorf("round trip through the proxy: %w", err)
	}
	for _, conns := range []int{1, 4, 8} {
		ideal := float64(conns) / (2 * sz.rtt.Seconds())
		idealReal := float64(conns) / (2 * real.Seconds())
		if err := b.pullRow(pulls, fmt.Sprintf("4 KiB, %v RTT", sz.rtt),
			pullCase{files: sz.rttFiles, size: sz.smallSize, conns: conns, rtt: sz.rtt, spool: b.diskDir},
			func(r pullResult) (string, string, string) {
				ratio := r.filesPerSec() / ideal
				cmp := fmt.Sprintf("%.0f%% of ideal %.0f files/s (%.0f%% of %.0f files/s at the proxy's measured %.1f ms)",
					100*ratio, ideal, 100*r.filesPerSec()/idealReal, idealReal, real.Seconds()*1000)
				if conns != 8 {
					return cmp, "", ""
				}
				return cmp, "≥ 80% of ideal", verdict(ratio >= 0.8)
			}); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) nagle(nagle *table) error {
	sz := b.sz
	progress("Nagle comparison")
	faithful, err := b.pull(pullCase{files: sz.nagleFiles, size: sz.smallSize, conns: 1, spool: b.fastDir})
	if err != nil {
		return fmt.Errorf("server with Nagle on: %w", err)
	}
	noDelay, err := b.pull(pullCase{files: sz.nagleFiles, size: sz.smallSize, conns: 1, noDelay: true, spool: b.fastDir})
	if err != nil {
		return fmt.Errorf("server with Nagle off: %w", err)
	}
	perFile := func(r pullResult) float64 { return 1000 * r.elapsed.Seconds() / float64(r.files) }
	ratio := perFile(faithful) / perFile(noDelay)
	nagle.add("no Nagle (NoDelay, not reference-faithful)", fmt.Sprint(noDelay.files), fmt.Sprintf("%.3f", perFile(noDelay)), "1", "", "")
	nagle.add("reference-faithful: 1 KiB writes, Nagle on", fmt.Sprint(faithful.files), fmt.Sprintf("%.3f", perFile(faithful)),
		fmt.Sprintf("%.2f×", ratio), "≤ 2×", verdict(ratio <= 2))
	return nil
}

func (b *bench) memory(mem *table) error {
	sz := b.sz
	for _, c := range []struct {
		what  string
		files int
		size  int64
	}{
		{"nothing to pull (baseline)", 0, 0},
		{fmt.Sprintf("one file of %d MiB", sz.rssBig>>20), 1, sz.rssBig},
		{fmt.Sprintf("%d MiB over %d files", sz.rssBig>>20, sz.rssFiles), sz.rssFiles, sz.rssBig / int64(sz.rssFiles)},
	} {
		progress("peak RSS: %s", c.what)
		r, err := b.rss(c.files, c.size, 8)
		if err != nil {
			return fmt.Errorf("peak RSS, %s: %w", c.what, err)
		}
		target, met := "< 64 MiB", verdict(r.peak < 64<<20)
		if c.files == 0 {
			target, met = "", ""
		}
		mem.add(c.what, fmt.Sprint(r.files), fmt.Sprintf("%.1f", r.elapsed.Seconds()), fmt.Sprintf("%.1f MiB", float64(r.peak)/(1<<20)), target, met)
	}
	return nil
}

// pullRow runs one pull and adds its row; judge gives the comparison, the
// target and whether it was met.
func (b *bench) pullRow(t *table, what string, pc pullCase, judge func(pullResult) (string, string, string)) error {
	progress("%s, %d connections, %d files", what, pc.conns, pc.files)
	r, err := b.pull(pc)
	if err != nil {
		return fmt.Errorf("%s, %d connections: %w", what, pc.conns, err)
	}
	cmp, target, met := judge(r)
	t.add(what, fmt.Sprint(pc.conns), fmt.Sprint(r.files), fmt.Sprintf("%.2f", r.elapsed.Seconds()),
		fmt.Sprintf("%.0f", r.filesPerSec()), fmt.Sprintf("%.1f", r.mbPerSec()), cmp, target, met)
	return nil
}
