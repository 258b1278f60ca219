// Command tentacle-server runs the project's Go Tentacle server
// (tentacle/server) as a process, with the reference tentacle_server's flags
// where they mean the same thing. It stands in for an isolated network's
// server in the integration test and for trying tentaclesync by hand; it is
// not hardened for production.
//
// By default it never shows an upload before it is whole and never sends
// more than it announced. The -reference flag makes it behave as the
// reference server does there, so that clients can be tested against that:
// uploads visible while they are written, RECV and MV sent to the end of
// the file whatever size was announced.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/tentaclesync/tentaclesync/tentacle/server"
)

type options struct {
	address, storage, password string
	port                       int
	certFile, keyFile, caFile  string
	filters                    string
	insecure, overwrite        bool
	maxSize                    int64
	timeout, retries, maxConns int
	verbose, reference         bool
}

func main() {
	var o options
	flag.StringVar(&o.address, "a", "0.0.0.0", "address to listen on")
	flag.IntVar(&o.port, "p", 41121, "port to listen on (0: any free port, printed at start)")
	flag.StringVar(&o.storage, "s", "", "storage directory (required)")
	flag.StringVar(&o.password, "x", "", "password clients must send")
	flag.StringVar(&o.certFile, "e", "", "TLS certificate (with -k turns TLS on)")
	flag.StringVar(&o.keyFile, "k", "", "TLS private key")
	flag.StringVar(&o.caFile, "f", "", "CA that must have signed the client certificates")
	flag.StringVar(&o.filters, "i", "", `filters routing names to subdirectories, "regexp:dir;regexp:dir"`)
	flag.BoolVar(&o.insecure, "I", false, "enable the insecure operations LS and MV")
	flag.BoolVar(&o.overwrite, "o", false, "SEND may replace an existing file")
	flag.Int64Var(&o.maxSize, "m", 2000000, "largest file SEND accepts, in bytes")
	flag.IntVar(&o.timeout, "t", 1, "timeout of each network operation, in seconds")
	flag.IntVar(&o.retries, "r", 3, "retries of a network operation; idle close after t × (r+1)")
	flag.IntVar(&o.maxConns, "c", 10, "connections served at once")
	flag.BoolVar(&o.verbose, "v", false, "log every connection and file to stderr")
	flag.BoolVar(&o.reference, "reference", false, "for tests: the reference server's unsafe behaviour: uploads visible\n"+
		"while written, in 8 KiB writes; RECV and MV send to the end of the file, even past\n"+
		"the size announced (default: uploads appear only whole, bodies are the size announced)")
	flag.Parse()

	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := run(o, logger); err != nil {
		logger.Error("tentacle-server", "err", err)
		os.Exit(1)
	}
}

func run(o options, logger *slog.Logger) error {
	cfg, err := o.config(logger)
	if err != nil {
		return err
	}
	// Handle the signals before listening, so that a signal sent as soon as
	// the address is printed is not lost.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	srv, err := server.Start(net.JoinHostPort(o.address, strconv.Itoa(o.port)), cfg)
	if err != nil {
		return err
	}
	logger.Info("listening", "addr", srv.Addr(), "dir", o.storage, "tls", cfg.TLSConfig != nil)
	sig := <-stop
	logger.Info("stopping", "signal", sig.String())
	return srv.Close()
}

func (o options) config(logger *slog.Logger) (server.Config, error) {
	if o.storage == "" {
		return server.Config{}, errors.New("-s: the storage directory is required")
	}
	filters, err := server.ParseFilters(o.filters)
	if err != nil {
		return server.Config{}, fmt.Errorf("-i: %w", err)
	}
	tlsConfig, err := o.tlsConfig()
	if err != nil {
		return server.Config{}, err
	}
	cfg := server.Config{
		Dir: o.storage, Password: o.password, TLSConfig: tlsConfig,
		Insecure: o.insecure, Overwrite: o.overwrite, MaxSize: o.maxSize, Filters: filters,
		Timeout: time.Duration(o.timeout) * time.Second, Retries: o.retries, MaxConns: o.maxConns,
		VisibleUploads: o.reference, StreamToEOF: o.reference,
	}
	if o.verbose {
		cfg.Logger = logger
	}
	return cfg, nil
}

// tlsConfig is nil without -e/-k, like the reference server.
func (o options) tlsConfig() (*tls.Config, error) {
	if o.certFile == "" && o.keyFile == "" {
		if o.caFile != "" {
			return nil, errors.New("-f needs -e and -k")
		}
		return nil, nil
	}
	if o.certFile == "" || o.keyFile == "" {
		return nil, errors.New("-e and -k go together")
	}
	cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
	if err != nil {
		return nil, fmt.Errorf("-e/-k: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, fmt.Errorf("-f: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-f: no certificate in %s", o.caFile)
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = pool
	}
	return cfg, nil
}
