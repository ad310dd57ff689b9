package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// errImportRefused is the error of an import some of whose lines were
// refused: they are printed, and the exit status is 1.
var errImportRefused = errors.New("some lines were not taken")

func newImportCmd() *cobra.Command {
	var server, token, source string
	var chunk int
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Stream an NDJSON file of CIs and relationships to a running Skein",
		Long: `Streams FILE ("-": standard input), one CI or relationship a line, to the server's
POST /api/v1/import (docs/DISCOVERY.md, "Streaming import"), which writes it a chunk of
lines at a time, each chunk one transaction, in memory bounded by the chunk whatever the
size of the file. Prints each line that was not taken (invalid, conflict, not_found) with
its error, then the summary; exits 1 when a line was not taken or the import stopped early.

A line is {"ci": {"ref": "web1", "class": "LinuxServer", "attributes": {...}}} or
{"relationship": {"type": "RUNS_ON", "from": {"ref": "nginx1"}, "to": {"ref": "web1"}}};
an end may name a CI by identity instead: {"class": "Server", "identity": {"serial_number": "X"}}.

The token is --token or SKEIN_TOKEN (an agent token bound to the source, or an engineer's).`,
		Example: `  SKEIN_TOKEN=... skein import --server http://127.0.0.1:8080 --source cmdb-migration estate.ndjson`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if token == "" {
				token = os.Getenv("SKEIN_TOKEN")
			}
			if token == "" {
				return errors.New("a token is required: --token or SKEIN_TOKEN")
			}
			var in io.Reader = cmd.InOrStdin()
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			return runImport(cmd, server, token, source, chunk, in)
		},
	}
	cmd.Flags().StringVar(&server, "server", "http://127.0.0.1:8080", "base URL of the Skein server")
	cmd.Flags().StringVar(&token, "token", "", "API token (default: SKEIN_TOKEN)")
	cmd.Flags().StringVar(&source, "source", "", "the data source the lines report as (an agent token's bound source by default)")
	cmd.Flags().IntVar(&chunk, "chunk", 500, "lines a transaction takes (1 to 5000)")
	return cmd
}

// runImport streams in to the server and reports the lines not taken.
func runImport(cmd *cobra.Command, server, token, source string, chunk int, in io.Reader) error {
	q := url.Values{"chunk": {strconv.Itoa(chunk)}}
	if source != "" {
		q.Set("source", source)
	}
	req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, strings.TrimRight(server, "/")+"/api/v1/import?"+q.Encode(), in)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer resp.Body.Close()
	out := cmd.OutOrStdout()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("import refused: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	refused := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var line struct {
			Line    int             `json:"line"`
			Status  string          `json:"status"`
			Summary json.RawMessage `json:"summary"`
			Error   *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return fmt.Errorf("import: an answer line is not JSON: %w", err)
		}
		switch {
		case line.Summary != nil:
			fmt.Fprintf(out, "summary: %s\n", line.Summary)
			var s struct {
				Error json.RawMessage `json:"error"`
			}
			if json.Unmarshal(line.Summary, &s) == nil && s.Error != nil {
				refused = true
			}
		case line.Error != nil:
			refused = true
			fmt.Fprintf(out, "line %d: %s: %s\n", line.Line, line.Status, line.Error.Message)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("import: reading the answer: %w", err)
	}
	if refused {
		return errImportRefused
	}
	return nil
}
