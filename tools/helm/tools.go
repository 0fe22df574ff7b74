//go:build tools

// Package tools pins helm, which the tests use to lint, render and install the chart; nothing
// here ships.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
