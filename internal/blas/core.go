package blas

// coreEnv is the variable OpenBLAS reads, when it loads, to skip its CPU
// detection and use the named kernels.
const coreEnv = "OPENBLAS_CORETYPE"

// overrideCore is the kernel set chosen when OpenBLAS falls back to pre-AVX2
// kernels on a CPU with AVX2 and FMA: Haswell's, the AVX2/FMA kernels every
// such x86-64 CPU runs.
const overrideCore = "Haswell"

// preAVX2Cores are OpenBLAS's x86-64 kernel sets (openblas_get_corename
// spellings) that use no AVX2: where OpenBLAS lands when it does not know a
// CPU.
var preAVX2Cores = map[string]bool{
	"Katmai": true, "Coppermine": true, "Northwood": true, "Prescott": true, "Banias": true,
	"Atom": true, "Core2": true, "Penryn": true, "Dunnington": true, "Nehalem": true,
	"Sandybridge": true, "Opteron": true, "Opteron_SSE3": true, "Barcelona": true, "Bobcat": true,
	"Bulldozer": true, "Piledriver": true, "Nano": true,
}

// needsCoreOverride reports whether OpenBLAS, which chose the kernel set
// core, should be loaded again with OPENBLAS_CORETYPE=Haswell: only when
// the user left the variable unset (env ""), the CPU has AVX2 and FMA, and
// core is a pre-AVX2 set.
func needsCoreOverride(core, env string, avx2FMA bool) bool {
	return env == "" && avx2FMA && preAVX2Cores[core]
}
