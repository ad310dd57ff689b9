package store

import "context"

// SequenceStore hands out numbers from named counters: the human numbers
// of records (INC0010001, CHG0010001) come from here. A number is handed
// out once: two callers, or two processes over one Neo4j, never get the
// same one. Numbers are not given back when the write that asked for them
// fails, so a sequence may have gaps, as ServiceNow's do.
type SequenceStore interface {
	// NextSequence advances sequence name by n (1..MaxBatch) and returns
	// the last number handed out: the caller owns last-n+1 .. last. A
	// sequence that was never used starts after 0. The counter is
	// durable: it survives a restart and never goes back.
	NextSequence(ctx context.Context, name string, n int) (last int64, err error)
}

// CheckSequence validates the arguments of NextSequence: name an
// identifier, n in 1..MaxBatch.
func CheckSequence(name string, n int) error {
	if !ValidIdentifier(name) {
		return Invalid("sequence", "%q is not a sequence name: letters, digits and underscores, starting with a letter, at most 64", clip(name, 64))
	}
	if n < 1 || n > MaxBatch {
		return Invalid("n", "%d numbers asked; allowed: 1 to %d", n, MaxBatch)
	}
	return nil
}
