//go:build tools

// Package tools pins MetalLB's controller and speaker, which only the comparison (bench/compare.ts,
// the lab's --implementation metallb and its e2e test) runs next to ironlb; nothing here ships.
package tools

import (
	_ "go.universe.tf/metallb/controller"
	_ "go.universe.tf/metallb/speaker"
)
