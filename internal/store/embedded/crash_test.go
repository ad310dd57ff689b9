package embedded

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

// crashDirEnv selects the helper mode of TestCrashHelper: the test binary
// re-executes itself with it set to a store directory.
const crashDirEnv = "SKEIN_EMBEDDED_CRASH_DIR"

const (
	crashWriters   = 4
	crashBatchSize = 20
)

// TestCrashHelper is not a test: run by TestCrashRecovery in a child
// process, it writes batches from several goroutines forever, printing
// "ack <writer> <batch>" once each batch is acknowledged, until killed.
func TestCrashHelper(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashRecovery")
	}
	s, err := Open(context.Background(), dir, Options{})
	if err != nil {
		fmt.Println("open failed:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < crashWriters; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for n := 0; ; n++ {
				if err := crashBatch(s, w, n); err != nil {
					fmt.Println("write failed:", err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Printf("ack %d %d\n", w, n)
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
}

// crashBatch writes batch n of writer w: crashBatchSize CIs, atomically,
// then a chain of relationships between them.
func crashBatch(s *Store, w, n int) error {
	ctx := context.Background()
	tag := fmt.Sprintf("%d-%d", w, n)
	items := make([]store.CIUpsert, crashBatchSize)
	for i := range items {
		items[i] = item("Node", []string{fmt.Sprintf("crash|%s|%d", tag, i), fmt.Sprintf("alt|%s|%d", tag, i)}, "batch", tag, "i", int64(i))
	}
	res, err := s.UpsertNodes(ctx, store.Actor{Name: "crash", Source: "crash"}, store.UpsertBatch{Items: items, Reconcile: reconcile, Atomic: true})
	if err != nil {
		return err
	}
	rels := make([]store.RelationshipInput, 0, len(res)-1)
	for i := 1; i < len(res); i++ {
		rels = append(rels, store.RelationshipInput{Type: "NEXT", Source: res[i-1].Node.ID, Target: res[i].Node.ID})
	}
	_, err = s.CreateRelationships(ctx, store.Actor{Name: "crash", Source: "crash"}, rels, true)
	return err
}

// TestCrashRecovery kills a writing child process with SIGKILL at a random
// moment, several times, and checks that the store reopens cleanly with
// every acknowledged batch present and no partial batch.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	dir := t.TempDir()
	acked := map[string]bool{}
	for trial := 0; trial < 4; trial++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		lines := make(chan string)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		// Let it write for a while (the first ack shows it is running).
		deadline := time.After(time.Duration(150+rng.IntN(350)) * time.Millisecond)
		var first bool
	read:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("trial %d: helper exited early", trial)
				}
				var w, n int
				if _, err := fmt.Sscanf(l, "ack %d %d", &w, &n); err != nil {
					t.Fatalf("trial %d: helper said %q", trial, l)
				}
				acked[fmt.Sprintf("%d-%d", w, n)] = true
				first = true
			case <-deadline:
				if first {
					break read
				}
				deadline = time.After(50 * time.Millisecond)
			}
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		for l := range lines { // acks printed before the kill count too
			var w, n int
			if _, err := fmt.Sscanf(l, "ack %d %d", &w, &n); err == nil {
				acked[fmt.Sprintf("%d-%d", w, n)] = true
			}
		}
		_ = cmd.Wait()
		verifyCrashDir(t, dir, acked)
	}
	t.Logf("%d batches acknowledged over 4 kills", len(acked))
}

func verifyCrashDir(t *testing.T, dir string, acked map[string]bool) {
	t.Helper()
	s, err := Open(t.Context(), dir, Options{})
	require.NoError(t, err, "the store reopens after a kill")
	defer func() { require.NoError(t, s.Close()) }()
	var check string
	require.NoError(t, s.rdb.QueryRowContext(t.Context(), "PRAGMA integrity_check").Scan(&check))
	require.Equal(t, "ok", check)
	var fk int
	require.NoError(t, s.rdb.QueryRowContext(t.Context(), "SELECT count(*) FROM pragma_foreign_key_check").Scan(&fk))
	require.Zero(t, fk)
	checkKeyTables(t, s)

	// Every batch present is whole; every acknowledged one is present.
	counts := map[string]int{}
	first := map[string]store.ID{}
	cursor := ""
	for {
		p, err := s.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI}, store.PageRequest{First: store.MaxPageSize, After: cursor})
		require.NoError(t, err)
		for _, c := range p.Items {
			b := c.Attributes["batch"].(string)
			counts[b]++
			if c.Attributes["i"] == int64(0) {
				first[b] = c.ID
			}
		}
		if !p.HasNext {
			break
		}
		cursor = p.EndCursor
	}
	for b := range acked {
		assert.Equal(t, crashBatchSize, counts[b], "acknowledged batch %s is whole", b)
	}
	for b, n := range counts {
		assert.Equal(t, crashBatchSize, n, "batch %s is atomic", b)
	}
	// The rebuilt index has each acknowledged batch's chain.
	var missing []string
	for b := range acked {
		tr, err := s.Expand(t.Context(), store.Traversal{Start: []store.ID{first[b]}, Rules: []store.EdgeRule{{Type: "NEXT", Dir: store.Out}}, MaxDepth: store.MaxDepth, MaxNodes: 100})
		require.NoError(t, err)
		if len(tr.Nodes) != crashBatchSize {
			missing = append(missing, b)
		}
	}
	assert.Empty(t, missing, "chains of acknowledged batches: %s", strings.Join(missing, ","))
}
