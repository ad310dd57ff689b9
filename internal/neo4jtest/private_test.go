package neo4jtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/neo4jtest"
)

// TestStartPrivate checks that a private instance keeps its address,
// password and data across a kill and a clean stop.
func TestStartPrivate(t *testing.T) {
	inst := neo4jtest.StartPrivate(t)
	env := inst.Env()
	require.Regexp(t, `^bolt://127\.0\.0\.1:\d+$`, env.URI)
	require.NotEmpty(t, inst.Version())

	drv, err := neo4j.NewDriverWithContext(env.URI, neo4j.BasicAuth(env.User, env.Password, ""))
	require.NoError(t, err)
	t.Cleanup(func() { _ = drv.Close(context.Background()) })
	query := func(ctx context.Context, q string) (int64, error) {
		res, err := neo4j.ExecuteQuery(ctx, drv, q, nil, neo4j.EagerResultTransformer)
		if err != nil {
			return 0, err
		}
		n, _ := res.Records[0].Get("n")
		return n.(int64), nil
	}
	count := func() int64 {
		t.Helper()
		n, err := query(t.Context(), "MATCH (m:PrivateTest) RETURN count(m) AS n")
		require.NoError(t, err)
		return n
	}

	_, err = query(t.Context(), "CREATE (m:PrivateTest) RETURN 1 AS n")
	require.NoError(t, err)
	require.EqualValues(t, 1, count())

	inst.Kill()
	require.False(t, inst.Running())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.Error(t, drv.VerifyConnectivity(ctx), "a killed instance answers nothing")

	inst.Start()
	require.Equal(t, env, inst.Env(), "same address and password")
	require.EqualValues(t, 1, count(), "a committed write survives a kill")

	inst.Stop()
	require.False(t, inst.Running())
	inst.Start()
	require.EqualValues(t, 1, count(), "and a clean stop")
}
