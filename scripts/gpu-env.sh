# Sourced by scripts/test-gpu and scripts/bench-gpu: builds Lazuli with the CUDA backend
# (Hopper, sm_90) into build-gpu, with the Python package when nanobind is importable.
# On the lent GPU machine, whose image lacks some Debian libraries, it first unpacks the
# packages scripts/fetch-gpu-debs saved in .gpu-debs/ into .gpu-prefix/ and builds
# against them.
flags=()
if [ -d .gpu-debs ] && ! pkg-config --exists libhwy 2>/dev/null; then
  prefix=$PWD/.gpu-prefix
  if [ ! -d "$prefix/usr" ]; then
    mkdir -p "$prefix"
    for f in .gpu-debs/*.deb; do dpkg -x "$f" "$prefix"; done
  fi
  lib=$prefix/usr/lib/x86_64-linux-gnu
  # zlib's headers come from the package, its library is the machine's own (shared).
  rm -f "$lib/libz.a" && ln -sf "$(ls /usr/lib/x86_64-linux-gnu/libz.so.1 /lib/x86_64-linux-gnu/libz.so.1 2>/dev/null | head -1)" "$lib/libz.so"
  export PATH=$prefix/usr/bin:$PATH
  export PKG_CONFIG_PATH=$lib/pkgconfig:$prefix/usr/share/pkgconfig
  export PKG_CONFIG_SYSROOT_DIR=$prefix
  export PKG_CONFIG_LIBDIR=$PKG_CONFIG_PATH
  export LD_LIBRARY_PATH=$lib:$lib/openblas-pthread:$lib/lapack:$lib/blas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export CMAKE_PREFIX_PATH=$prefix/usr
  flags+=(-DOPENBLAS_LIBRARY="$lib/openblas-pthread/libopenblas.so"
          -DCBLAS_INCLUDE_DIR="$prefix/usr/include/x86_64-linux-gnu/openblas-pthread"
          -DLAPACKE_LIBRARY="$lib/liblapacke.so"
          -DCMAKE_CXX_FLAGS="-isystem $prefix/usr/include")
fi
python=$(command -v python3 || true)
if [ -n "$python" ] && "$python" -c "import nanobind" 2>/dev/null; then
  flags+=(-DLAZULI_BUILD_PYTHON=ON -DPython_EXECUTABLE="$python")
else
  flags+=(-DLAZULI_BUILD_PYTHON=OFF)
fi
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DLAZULI_CUDA=ON \
  -DLAZULI_BUILD_BENCHMARKS=OFF -DLAZULI_BUILD_EXAMPLES=ON "${flags[@]}" >/dev/null
cmake --build build-gpu -j "$(nproc)"
