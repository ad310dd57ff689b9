// Package config owns Skein's configuration: one typed Config, loaded from
// built-in defaults, then a YAML file (skein.yaml), then SKEIN_* environment
// variables, then command-line flags, each source overriding the one before,
// and validated all at once.
//
// viper is an implementation detail of this package: callers see Config,
// Load, Validate and a pflag.FlagSet, never a *viper.Viper. Every key is
// declared once, in the fields table of keys.go, which drives defaults,
// environment variable names, the standard flags, redaction of secrets and
// the printed form; docs/CONFIGURATION.md documents the same table and a test
// keeps the two in step.
package config
