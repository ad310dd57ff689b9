package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// The configuration file.
const (
	// DefaultFile is read from the working directory when no file is named;
	// it may be absent.
	DefaultFile = "skein.yaml"
	// FileEnv names a configuration file that must exist.
	FileEnv = "SKEIN_CONFIG"
	// FileFlag is the flag that names a configuration file that must exist;
	// it overrides FileEnv.
	FileFlag = "config"
)

// Default returns the built-in defaults: what `skein serve` runs with when
// no file, environment variable or flag says otherwise.
func Default() Config {
	var c Config
	for _, f := range fields {
		if err := f.set(&c, f.def); err != nil {
			panic(fmt.Sprintf("config: default of %s: %v", f.key, err))
		}
	}
	return c
}

// RegisterServeFlags adds the standard flags of `skein serve` to fs: --config
// and one flag per commonly set key (--addr, --data-dir, --store,
// --neo4j-uri, --neo4j-user, --neo4j-password, --neo4j-database,
// --log-level, --log-format, --demo). Load binds them by name, so a caller
// may also register any subset itself.
func RegisterServeFlags(fs *pflag.FlagSet) {
	fs.String(FileFlag, "", fmt.Sprintf("configuration file (default: %s if present; env %s)", DefaultFile, FileEnv))
	for _, f := range fields {
		if f.flag == "" {
			continue
		}
		usage := fmt.Sprintf("%s (key %s, env %s)", f.usage, f.key, EnvVar(f.key))
		switch d := f.def.(type) {
		case bool:
			fs.Bool(f.flag, d, usage)
		case Secret:
			fs.String(f.flag, "", usage)
		case string:
			fs.String(f.flag, d, usage)
		default:
			panic(fmt.Sprintf("config: flag --%s: unsupported default %T", f.flag, d))
		}
	}
}

// Load reads the configuration, each source overriding the one before:
// built-in defaults, then the configuration file, then SKEIN_* environment
// variables, then the flags of flagSet that were set on the command line
// (flagSet may be nil). The file is the one named by --config, else by
// SKEIN_CONFIG, else skein.yaml in the working directory; a named file must
// exist, the default one may not.
//
// Load validates the result. Its error lists every problem at once, as
// *FieldError values joined with errors.Join; a file that cannot be read is
// a plain error. On error the returned Config is the zero value.
func Load(flagSet *pflag.FlagSet) (Config, error) {
	v := viper.New()
	for _, f := range fields {
		v.SetDefault(f.key, f.def)
		if err := v.BindEnv(f.key, EnvVar(f.key)); err != nil {
			return Config{}, fmt.Errorf("config: bind %s: %w", EnvVar(f.key), err)
		}
	}

	path, explicit := filePath(flagSet)
	file, err := readFile(v, path, explicit)
	if err != nil {
		return Config{}, err
	}

	if flagSet != nil {
		for _, f := range fields {
			if fl := flagSet.Lookup(f.flag); f.flag != "" && fl != nil {
				if err := v.BindPFlag(f.key, fl); err != nil {
					return Config{}, fmt.Errorf("config: bind --%s: %w", f.flag, err)
				}
			}
		}
	}

	source := func(key string) string {
		f, _ := lookupField(key)
		if fl := lookupFlag(flagSet, f.flag); fl != nil && fl.Changed {
			return "--" + fl.Name
		}
		if os.Getenv(EnvVar(key)) != "" {
			return EnvVar(key)
		}
		if file != "" && v.InConfig(key) {
			return file
		}
		return ""
	}

	var (
		c    Config
		errs []error
	)
	if file != "" {
		errs = append(errs, unknownKeys(v, file)...)
	}
	undecodable := map[string]bool{}
	for _, f := range fields {
		if err := f.set(&c, v.Get(f.key)); err != nil {
			undecodable[f.key] = true
			errs = append(errs, &FieldError{Key: f.key, Message: err.Error(), Source: source(f.key)})
		}
	}
	for _, e := range fieldErrors(c.Validate()) {
		var fe *FieldError
		if errors.As(e, &fe) {
			if undecodable[fe.Key] {
				continue // already reported, and its zero value says nothing
			}
			fe.Source = source(fe.Key)
		}
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

func lookupFlag(flagSet *pflag.FlagSet, name string) *pflag.Flag {
	if flagSet == nil || name == "" {
		return nil
	}
	return flagSet.Lookup(name)
}

// filePath returns the configuration file to read and whether it was named
// explicitly (and so must exist).
func filePath(flagSet *pflag.FlagSet) (string, bool) {
	if fl := lookupFlag(flagSet, FileFlag); fl != nil && fl.Value.String() != "" {
		return fl.Value.String(), true
	}
	if p := os.Getenv(FileEnv); p != "" {
		return p, true
	}
	return DefaultFile, false
}

// readFile reads path into v and returns it, or returns "" when the default
// file is absent.
func readFile(v *viper.Viper, path string, explicit bool) (string, error) {
	if _, err := os.Stat(path); err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return "", fmt.Errorf("config: %w", err)
	}
	v.SetConfigFile(path)
	switch strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".") {
	case "yaml", "yml", "json", "toml":
	default:
		v.SetConfigType("yaml")
	}
	if err := v.ReadInConfig(); err != nil {
		return "", fmt.Errorf("config: read %s: %w", path, err)
	}
	return path, nil
}

// unknownKeys reports the keys of the file that Config does not have, which
// are usually typos that would otherwise be silently ignored.
func unknownKeys(v *viper.Viper, file string) []error {
	var errs []error
	keys := v.AllKeys()
	slices.Sort(keys)
	for _, k := range keys {
		if _, ok := lookupField(k); ok {
			continue
		}
		msg := "unknown key (docs/CONFIGURATION.md lists the keys)"
		if isSection(k) {
			msg = "must be a mapping of keys such as " + firstKeyOf(k)
		}
		errs = append(errs, &FieldError{Key: k, Message: msg, Source: file})
	}
	return errs
}

func isSection(k string) bool { return firstKeyOf(k) != "" }

func firstKeyOf(section string) string {
	for _, f := range fields {
		if strings.HasPrefix(f.key, section+".") {
			return f.key
		}
	}
	return ""
}
