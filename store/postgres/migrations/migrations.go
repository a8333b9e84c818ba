// Package migrations is the schema of store/postgres: one SQL file per
// version (NNNN_what.sql brings a schema of version NNNN-1 to NNNN),
// embedded, and Apply, which brings a database up to date under an
// advisory lock. It imports nothing of hooknote.
package migrations

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// files holds the schema, one file per version.
//
//go:embed *.sql
var files embed.FS

// migration is one file of migrations.
type migration struct {
	version int
	name    string
	sql     string
}

// load returns the embedded migrations in order of version, checking
// that they are numbered 1, 2, 3, … without a gap.
func load() ([]migration, error) {
	names, err := fs.Glob(files, "*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		prefix, _, _ := strings.Cut(path.Base(name), "_")
		v, err := strconv.Atoi(prefix)
		if err != nil {
			return nil, fmt.Errorf("migration %s: no version number", name)
		}
		b, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: path.Base(name), sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d", m.name, m.version, i+1)
		}
	}
	return ms, nil
}

// Latest is the version the embedded migrations bring a schema to.
func Latest() (int, error) {
	ms, err := load()
	return len(ms), err
}

// Apply brings the schema (the first of the search_path) up to date in one
// transaction, under the advisory lock lock, so that processes starting at
// once wait for the first one; a schema newer than this hooknote knows is
// refused.
func Apply(ctx context.Context, pool *pgxpool.Pool, lock int64) error {
	ms, err := load()
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lock); err != nil {
			return fmt.Errorf("wait for the schema lock: %w", err)
		}
		if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)"); err != nil {
			return fmt.Errorf("create schema_version: %w", err)
		}
		var version int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_version").Scan(&version); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if version > len(ms) {
			return fmt.Errorf("schema version %d is newer than this hooknote knows (%d): upgrade hooknote", version, len(ms))
		}
		if version == len(ms) {
			return nil
		}
		for _, m := range ms[version:] {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migrate schema to version %d (%s): %w", m.version, m.name, err)
			}
		}
		if _, err := tx.Exec(ctx, "DELETE FROM schema_version"); err != nil {
			return fmt.Errorf("write schema version: %w", err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_version (version) VALUES ($1)", len(ms)); err != nil {
			return fmt.Errorf("write schema version: %w", err)
		}
		return nil
	})
}
