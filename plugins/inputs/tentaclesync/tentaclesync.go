package tentaclesync

import (
	"context"
	"crypto/tls"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/filter"
	common_tls "github.com/influxdata/telegraf/plugins/common/tls"
	"github.com/influxdata/telegraf/plugins/inputs"

	"github.com/tentaclesync/tentaclesync/internal/state"
	"github.com/tentaclesync/tentaclesync/spool"
	"github.com/tentaclesync/tentaclesync/tentacle"
)

//go:embed sample.conf
var sampleConfig string

// maxConnections is the reference server's default connection limit (-c):
// more would only queue on the server.
const maxConnections = 10

// Upper bounds of the other counts and durations.
const (
	maxTimeout        = time.Hour
	maxRetries        = 10
	maxMinFileAge     = 24 * time.Hour
	maxFilesPerGather = 1_000_000
	maxFileSize       = config.Size(1 << 40)
)

// TentacleSync pulls Pandora FMS data files from Tentacle servers into the
// central spool.
type TentacleSync struct {
	Servers           []string        `toml:"servers"`
	SpoolDir          string          `toml:"spool_dir"`
	Password          config.Secret   `toml:"password"`
	Timeout           config.Duration `toml:"timeout"`
	Retries           int             `toml:"retries"`
	Connections       int             `toml:"connections"`
	Include           []string        `toml:"include"`
	MaxFileSize       config.Size     `toml:"max_file_size"`
	MaxFilesPerGather int             `toml:"max_files_per_gather"`
	Transfer          string          `toml:"transfer"`
	MinFreeSpace      freeSpace       `toml:"min_free_space"`
	MinFileAge        config.Duration `toml:"min_file_age"`
	ConfigSync        bool            `toml:"config_sync"`
	StateDir          string          `toml:"state_dir"`
	// PandoraAgentName turns the self-report on (see selfreport.go).
	PandoraAgentName     string          `toml:"pandora_agent_name"`
	PandoraAgentInterval config.Duration `toml:"pandora_agent_interval"`
	Log                  telegraf.Logger `toml:"-"`
	common_tls.ClientConfig

	include  filter.Filter
	targets  []*target
	reserved atomic.Int64 // bytes claimed by files being written (see reserve)
	sums     sumCache
	recovery *spool.Recovery
	// gathering is held (shared) by each Gather, so that Stop can wait for
	// them to end.
	gathering sync.RWMutex

	// stopping ends at Stop; syncs in flight then wind down (see serverSync).
	stopping context.Context
	stop     context.CancelFunc

	// checkOnly makes Init prepare nothing and Gather refuse: the plugin
	// is for Check (see PrepareCheck).
	checkOnly bool

	// started is when Init ran: seconds_since_success counts from it until
	// a server's first success.
	started time.Time
}

// target is one configured server and the lock that keeps two syncs of it
// from overlapping.
type target struct {
	addr string
	tls  *tls.Config
	busy sync.Mutex
	// lastSuccess is when a gather of the server last succeeded in this
	// process (Unix nanoseconds; 0 before the first).
	lastSuccess atomic.Int64
	// firstSeen is when each name on the server was first listed (see
	// settled); busy guards it.
	firstSeen map[string]time.Time
}

func (*TentacleSync) SampleConfig() string {
	return sampleConfig
}

func (t *TentacleSync) Init() error {
	if len(t.Servers) == 0 {
		return errors.New("servers: at least one Tentacle server is required")
	}
	if err := t.checkSpoolDir(); err != nil {
		return err
	}
	if !filepath.IsAbs(t.StateDir) {
		return fmt.Errorf("state_dir: must be an absolute path, got %q", t.StateDir)
	}
	// Bounded so that no product of them (such as timeout × (retries + 1))
	// can overflow.
	if t.Timeout <= 0 || t.Timeout > config.Duration(maxTimeout) {
		return fmt.Errorf("timeout: must be positive and at most %s, got %s", maxTimeout, time.Duration(t.Timeout))
	}
	if t.MinFileAge < 0 || t.MinFileAge > config.Duration(maxMinFileAge) {
		return fmt.Errorf("min_file_age: must be between 0s and %s, got %s", maxMinFileAge, time.Duration(t.MinFileAge))
	}
	if t.Retries < 0 || t.Retries > maxRetries {
		return fmt.Errorf("retries: must be between 0 and %d, got %d", maxRetries, t.Retries)
	}
	if t.Connections < 1 || t.Connections > maxConnections {
		return fmt.Errorf("connections: must be between 1 and %d, got %d", maxConnections, t.Connections)
	}
	if t.MaxFileSize <= 0 || t.MaxFileSize > maxFileSize {
		return fmt.Errorf("max_file_size: must be positive and at most 1TiB, got %d bytes", int64(t.MaxFileSize))
	}
	if t.MaxFilesPerGather < 0 || t.MaxFilesPerGather > maxFilesPerGather {
		return fmt.Errorf("max_files_per_gather: must be between 0 (no bound) and %d, got %d", maxFilesPerGather, t.MaxFilesPerGather)
	}
	if t.PandoraAgentInterval < config.Duration(minAgentInterval) || t.PandoraAgentInterval > config.Duration(maxAgentInterval) {
		return fmt.Errorf("pandora_agent_interval: must be between %s and %s, got %s", minAgentInterval, maxAgentInterval, time.Duration(t.PandoraAgentInterval))
	}
	if t.PandoraAgentName != "" {
		if err := checkAgentName(t.PandoraAgentName); err != nil {
			return err
		}
	}
	if unlinked := t.Password.GetUnlinked(); len(unlinked) > 0 {
		return fmt.Errorf("password: secret-store references (%s) are not supported: "+
			"tentaclesync-execd loads no secret store; write the password, or ${NAME} to take it from the environment",
			strings.Join(unlinked, ", "))
	}
	if t.Transfer != transferMove && t.Transfer != transferVerified {
		return fmt.Errorf("transfer: must be %q or %q, got %q", transferMove, transferVerified, t.Transfer)
	}
	if len(t.Include) == 0 {
		return errors.New("include: at least one pattern is required")
	}
	include, err := filter.Compile(t.Include)
	if err != nil {
		return fmt.Errorf("include: %w", err)
	}
	t.include = include
	tlsConfig, err := t.tlsConfig()
	if err != nil {
		return err
	}
	if err := t.initTargets(tlsConfig); err != nil {
		return err
	}
	// After every other check, so that only a good configuration creates
	// it, and before the spool's recovery, which takes the spool's lock.
	if t.ConfigSync && !t.checkOnly {
		if err := state.Prepare(t.StateDir); err != nil {
			return fmt.Errorf("state_dir: %w", err)
		}
	}
	if err := t.recoverSpool(); err != nil {
		return err
	}
	t.stopping, t.stop = context.WithCancel(context.Background())
	t.started = time.Now()
	return nil
}

// recoverSpool removes what a crash left half written, and holds the spool
// against the same from another process while this one runs (see
// spool.Recover). Init runs once per process start, before any transfer.
func (t *TentacleSync) recoverSpool() error {
	if t.checkOnly {
		return nil // Check writes nothing and holds nothing
	}
	sp, err := spool.Open(t.SpoolDir)
	if err != nil {
		return fmt.Errorf("spool_dir: %w", err)
	}
	defer sp.Close()
	t.recovery.Release()
	rec, err := sp.Recover()
	if rec == nil {
		return fmt.Errorf("spool_dir: %w", err)
	}
	if err != nil {
		// Leftovers only cost room; the Data Server never reads them.
		t.Log.Warnf("removing files left half written by an earlier run: %v", err)
	}
	t.recovery = rec
	for _, name := range rec.Removed {
		t.Log.Infof("removed %s from the spool: a file left half written by an earlier run", name)
	}
	if rec.InUse {
		// Two writers of one state file would undo each other's records.
		t.Log.Infof("another tentaclesync is using %s: its temporary files are left alone, and only that one syncs configuration", t.SpoolDir)
		if t.PandoraAgentName != "" {
			t.Log.Infof("pandora_agent_name: no self-report while another tentaclesync uses %s", t.SpoolDir)
		}
	}
	if _, err := sp.Space(); err != nil {
		t.Log.Warnf("min_free_space is not enforced: %v", err)
	}
	return nil
}

// Start does nothing: the plugin works in Gather. It is here for Stop.
func (*TentacleSync) Start(telegraf.Accumulator) error { return nil }

// Stop ends a Gather in progress soon and safely: no new connection or file
// is started, and a file in flight gets up to timeout (at most 4 s) to
// finish before it is cut (and then aborted, leaving no partial file). Stop
// returns once the Gather has. Telegraf's execd shim only calls Stop once
// the last Gather has returned, so tentaclesync-execd calls it too, as soon
// as it is told to end.
func (t *TentacleSync) Stop() {
	if t.stop != nil {
		t.stop()
	}
	// Files may be written until the last Gather returns; only then may
	// another process recover the spool.
	t.gathering.Lock()
	defer t.gathering.Unlock()
	t.recovery.Release()
}

func (t *TentacleSync) checkSpoolDir() error {
	// Relative to what the process was started in, it would change with
	// how it was started.
	if !filepath.IsAbs(t.SpoolDir) {
		return fmt.Errorf("spool_dir: must be an absolute path, got %q", t.SpoolDir)
	}
	info, err := os.Stat(t.SpoolDir)
	if err != nil {
		return fmt.Errorf("spool_dir: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("spool_dir: %s is not a directory", t.SpoolDir)
	}
	return nil
}

func (t *TentacleSync) tlsConfig() (*tls.Config, error) {
	if (t.TLSCert == "") != (t.TLSKey == "") {
		return nil, errors.New("tls_cert and tls_key: set both or neither")
	}
	cfg, err := t.ClientConfig.TLSConfig()
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return cfg, nil
}

func (t *TentacleSync) initTargets(tlsConfig *tls.Config) error {
	seen := make(map[string]bool, len(t.Servers))
	t.targets = t.targets[:0]
	for _, s := range t.Servers {
		addr, host, err := serverAddr(s)
		if err != nil {
			return fmt.Errorf("servers: %w", err)
		}
		if seen[addr] {
			return fmt.Errorf("servers: %s is listed twice", addr)
		}
		seen[addr] = true
		tgt := &target{addr: addr}
		if tlsConfig != nil {
			tgt.tls = tlsConfig.Clone()
			if tgt.tls.ServerName == "" {
				tgt.tls.ServerName = host
			}
		}
		t.targets = append(t.targets, tgt)
	}
	return sameServers(t.targets)
}

// sameServers refuses two entries that reach one server, such as
// 127.0.0.1:41121 and localhost:41121: both would move the same files, and
// each would take the other's for lost. A name that does not resolve now is
// left to the gathers to report.
func sameServers(targets []*target) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reached := map[string]string{}
	for _, tgt := range targets {
		host, port, _ := net.SplitHostPort(tgt.addr)
		ips, err := net.DefaultResolver.LookupHost(ctx, host)
		if err != nil {
			continue
		}
		for _, ip := range ips {
			key := net.JoinHostPort(ip, port)
			if other, ok := reached[key]; ok && other != tgt.addr {
				return fmt.Errorf("servers: %s and %s are the same server (both reach %s): list it once", other, tgt.addr, key)
			}
			reached[key] = tgt.addr
		}
	}
	return nil
}

// serverAddr turns "host" or "host:port" into "host:port".
func serverAddr(s string) (addr, host string, err error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port: a name, an IPv4 address, or a bare or bracketed IPv6 one.
		host, port = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), tentacle.DefaultPort
	}
	if host == "" || strings.ContainsAny(host, " /[]") {
		return "", "", fmt.Errorf("bad host in %q", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", fmt.Errorf("bad port in %q", s)
	}
	return net.JoinHostPort(host, port), host, nil
}

func (t *TentacleSync) Gather(acc telegraf.Accumulator) error {
	if t.checkOnly {
		return errCheckOnly
	}
	t.gathering.RLock()
	defer t.gathering.RUnlock()
	sp, err := spool.Open(t.SpoolDir)
	if err != nil {
		return fmt.Errorf("spool_dir: %w", err)
	}
	defer sp.Close()

	var wg sync.WaitGroup
	var spoolFull sync.Once // one min_free_space warning per gather
	reports := make([]serverReport, len(t.targets))
	for i, tgt := range t.targets {
		wg.Go(func() {
			reports[i] = serverReport{addr: tgt.addr, fields: t.gatherServer(acc, sp, tgt, &spoolFull)}
		})
	}
	wg.Wait()
	t.selfReport(acc, sp, reports)
	return nil
}

// selfReport writes the gather's agent data file when pandora_agent_name is
// set; not once Stop has begun, when the servers were left unsynced, nor
// beside another tentaclesync on the spool (a -once), which would report
// the servers busy under the running one's agent.
func (t *TentacleSync) selfReport(acc telegraf.Accumulator, sp *spool.Spool, reports []serverReport) {
	if t.PandoraAgentName == "" || t.stopping.Err() != nil || t.recovery.InUse {
		return
	}
	now := time.Now()
	for i, tgt := range t.targets {
		since := t.started
		if last := tgt.lastSuccess.Load(); last != 0 {
			since = time.Unix(0, last)
		}
		reports[i].sinceSuccess = now.Sub(since)
	}
	if _, err := t.writeReport(sp, reports, now); err != nil {
		acc.AddError(fmt.Errorf("pandora_agent_name: writing the self-report: %w", err))
	}
}

// gatherServer syncs one server and returns the fields of its metric (nil
// when it wrote none).
func (t *TentacleSync) gatherServer(acc telegraf.Accumulator, sp *spool.Spool, tgt *target, spoolFull *sync.Once) map[string]any {
	if t.stopping.Err() != nil {
		return nil // stopped: no new sync, and no metric for one never started
	}
	if !tgt.busy.TryLock() {
		t.Log.Warnf("%s: the previous sync is still running; skipping this gather", tgt.addr)
		return addBusy(acc, tgt)
	}
	defer tgt.busy.Unlock()
	lock, err := sp.LockPull(tgt.addr)
	if errors.Is(err, spool.ErrPullBusy) {
		t.Log.Warnf("%s: another tentaclesync is pulling from this server into %s; skipping this gather", tgt.addr, t.SpoolDir)
		return addBusy(acc, tgt)
	}
	if err != nil {
		acc.AddError(fmt.Errorf("%s: spool_dir: %w", tgt.addr, err))
		return nil
	}
	defer lock.Release()

	start := time.Now()
	pull := t.newSync(sp, tgt, spoolFull)
	st := pull.run()
	res := classify(st.err)
	var cs configStats
	if t.ConfigSync && st.err == nil && !t.recovery.InUse {
		cs = pull.syncConfig()
		res = classify(cs.connErr)
	}
	fields := map[string]any{
		"files_received": st.received,
		"bytes_received": st.bytes,
		"files_skipped":  st.skipped,
		"files_failed":   st.failed,
		"files_deferred": st.deferred,
		"backlog_files":  st.backlog(),
		"sync_time":      time.Since(start).Seconds(),
		"result_code":    res.code,
	}
	maps.Copy(fields, cs.fields())
	acc.AddFields("tentaclesync", fields, map[string]string{"server": tgt.addr, "result": res.name})
	if res == resultSuccess {
		tgt.lastSuccess.Store(time.Now().UnixNano())
	}
	if st.err != nil {
		acc.AddError(fmt.Errorf("%s: %w", tgt.addr, st.err))
	}
	if st.localErr != nil {
		acc.AddError(fmt.Errorf("%s: pulling stopped: %w", tgt.addr, st.localErr))
	}
	for _, err := range append(cs.errs, cs.connErr) {
		if err != nil {
			acc.AddError(fmt.Errorf("%s: config sync: %w", tgt.addr, err))
		}
	}
	return fields
}

// addBusy reports a server skipped because another sync of it runs, and
// returns the metric's fields.
func addBusy(acc telegraf.Accumulator, tgt *target) map[string]any {
	fields := map[string]any{"result_code": resultBusy.code}
	acc.AddFields("tentaclesync", fields, map[string]string{"server": tgt.addr, "result": resultBusy.name})
	return fields
}

func init() {
	inputs.Add("tentaclesync", func() telegraf.Input {
		return &TentacleSync{
			SpoolDir:             "/var/spool/pandora/data_in",
			Timeout:              config.Duration(10 * time.Second),
			Retries:              3,
			Connections:          4,
			Include:              []string{"*.data"},
			MaxFileSize:          config.Size(64 << 20),
			MaxFilesPerGather:    10000,
			Transfer:             transferMove,
			MinFreeSpace:         freeSpace{percent: 5},
			MinFileAge:           config.Duration(3 * time.Second),
			ConfigSync:           true,
			StateDir:             "/var/lib/tentaclesync",
			PandoraAgentInterval: config.Duration(60 * time.Second),
		}
	})
}
