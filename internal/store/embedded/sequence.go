package embedded

import (
	"context"

	"github.com/skein-cmdb/skein/internal/store"
)

// NextSequence advances a counter of the sequences table through the
// single writer, so two callers never get the same numbers.
func (s *Store) NextSequence(ctx context.Context, name string, n int) (int64, error) {
	if err := store.CheckSequence(name, n); err != nil {
		return 0, err
	}
	var last int64
	err := s.write(ctx, func(w *wtx, _ *patch) error {
		err := w.conn.QueryRowContext(context.WithoutCancel(ctx),
			"INSERT INTO sequences(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value RETURNING value",
			name, n).Scan(&last)
		if err != nil {
			return dbErr("next sequence", err)
		}
		return nil
	})
	return last, err
}
