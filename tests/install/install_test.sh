#!/usr/bin/env bash
# The user's route to Strata, end to end (docs/guide.md "Your own program"):
#  1. `cmake --install` the build into a fresh prefix;
#  2. every installed header compiles on its own against that prefix alone, and none names a
#     third-party header (oneDNN, LMDB, protobuf, cereal) or is an internal one;
#  3. examples/standalone (find_package(Strata) only) configures and builds against the prefix;
#     a second program there registers its own op (schema and kernel) and trains with it;
#  4. it trains 2 epochs, resumes from main@1, runs fresh twice more, and the prefix's `strata`
#     binary shows branches main, main-2 (the resume), main-3, main-4 with event files in
#     tb/<branch>/;
#     and main-2@2 equals main@2 bit for bit; the pkg-config route builds the same program;
#  5. the subproject route (add_subdirectory on the source tree) configures without GoogleTest;
#  6. `cpack -G DEB` builds a package with all of it.
# usage: install_test.sh BUILD_DIR SOURCE_DIR WORK_DIR [CXX_FLAGS]
# CXX_FLAGS: what a program linking this build needs too (the sanitizer flags of an ASan build).
set -euo pipefail
build_dir=$1 source_dir=$2 work=$3 cxx_flags=${4:-}
rm -rf "$work" && mkdir -p "$work"
prefix=$work/prefix
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build_dir" --prefix "$prefix" > "$work/install.log"
[ -x "$prefix/bin/strata" ] || fail "strata binary not installed"
"$prefix/bin/strata" --version | grep -q "^strata 0\.4\.0 (oneDNN " || fail "strata --version: $("$prefix/bin/strata" --version)"
for f in lib/cmake/Strata/StrataConfig.cmake lib/cmake/Strata/StrataConfigVersion.cmake lib/cmake/Strata/StrataTargets.cmake \
         lib/pkgconfig/strata.pc include/strata/versioning/run/run.h include/strata/framework/train/trainer.h; do
  [ -e "$prefix/$f" ] || fail "missing $f"
done
ls "$prefix"/lib/libstrata_core.so.0.4 > /dev/null || fail "libstrata_core.so.0.4 (SONAME) missing"

# 2. Headers: each alone, with only the prefix on the include path.
headers=$(cd "$prefix/include" && find strata -name '*.h' | sort)
[ "$(echo "$headers" | wc -l)" -ge 30 ] || fail "too few headers installed: $headers"
for internal in framework/ops/internal/dnnl_utils.h framework/ops/internal/op.h framework/summary/internal/proto_bytes.h versioning/internal/atomic_file.h \
                versioning/internal/lmdb_env.h versioning/internal/range_coder.h versioning/internal/log_internals.h versioning/internal/chunk_cache.h; do
  [ ! -e "$prefix/include/strata/$internal" ] || fail "internal header installed: $internal"
done
if grep -nE '#include [<"](oneapi/|dnnl|lmdb|google/protobuf|cereal/|zstd|xxhash|Eigen)' -r "$prefix/include"; then
  fail "an installed header includes a third-party header"
fi
for h in $headers; do
  echo "#include <$h>" > "$work/one_header.cc"
  c++ -std=c++17 -fsyntax-only -Wall -Wextra -Werror -I"$prefix/include" "$work/one_header.cc" \
      || fail "$h does not compile on its own"
done

# 3. The standalone project, against the prefix only.
cmake -S "$source_dir/examples/standalone" -B "$work/app-build" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS="$cxx_flags" > "$work/app-configure.log" || { cat "$work/app-configure.log"; fail "configure"; }
cmake --build "$work/app-build" > "$work/app-build.log" 2>&1 || { cat "$work/app-build.log"; fail "build"; }
if grep -q -- "-I$source_dir\|-I$build_dir" "$work/app-build/CMakeFiles/fmnist_app.dir/flags.make"; then
  fail "the app was compiled with source-tree include paths"
fi

# The pkg-config route builds the same program.
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" c++ -std=c++17 $cxx_flags "$source_dir/examples/standalone/main.cc" -o "$work/app-pc" \
  $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs strata) -Wl,-rpath,"$prefix/lib" \
  || fail "pkg-config build"
"$work/app-pc" 2> /dev/null && fail "the app must refuse a missing LOG_DIR with exit 2" || [ $? -eq 2 ] || fail "usage exit code"

# A user's own op (schema + kernel through strata::register_op) trains in a program built
# against the prefix.
"$work/app-build/custom_op_app" > "$work/custom_op.log" || fail "custom_op_app: $(cat "$work/custom_op.log")"
grep -q "custom op Swish: gradient" "$work/custom_op.log" || fail "custom_op_app printed: $(cat "$work/custom_op.log")"

# 4. Train, resume, fresh runs; check with the installed strata.
app=$work/app-build/fmnist_app log=$work/log
"$app" "$log" 2 600 > "$work/run1.log"
"$app" "$log" 2 600 main@1 > "$work/run2.log"
grep -q "resumed from main@1" "$work/run2.log" || fail "resume did not report main@1: $(cat "$work/run2.log")"
"$app" "$log" 1 600 > "$work/run3.log"
"$app" "$log" 1 600 > "$work/run4.log"
strata="$prefix/bin/strata"
"$strata" log --all --json --log "$log" > "$work/log.json"
python3 - "$work/log.json" "$log" <<'PY'
import json, os, sys
versions = json.load(open(sys.argv[1]))["versions"]
by = {(v["branch"], v["epoch"]): v for v in versions}
want = {("main", 1), ("main", 2), ("main-2", 2), ("main-3", 1), ("main-4", 1)}
assert set(by) == want, f"versions {sorted(by)} != {sorted(want)}"
assert by[("main-2", 2)]["parents"] == [by[("main", 1)]["id"]], "main-2's first version must have main@1 as parent"
assert by[("main-3", 1)]["parents"] == [] and by[("main-4", 1)]["parents"] == [], "fresh runs have no parent"
for branch in ("main", "main-2", "main-3", "main-4"):
    d = os.path.join(sys.argv[2], "tb", branch)
    files = [f for f in os.listdir(d) if "tfevents" in f]
    assert len(files) == 1 and os.path.getsize(os.path.join(d, files[0])) > 0, f"{d}: {files}"
assert sorted(os.listdir(os.path.join(sys.argv[2], "tb"))) == ["main", "main-2", "main-3", "main-4"]
PY
# Resuming main@1 to epoch 2 reproduces main@2 bit for bit.
"$strata" diff main@2 main-2@2 --eps 0 --json --log "$log" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["changed_tensors"] == 0 and all(t["max_abs"] == 0 for t in d["tensors"]), d["tensors"]'
"$strata" show main-2 --log "$log" | grep -q "made with onednn .*strata 0.4.0" || fail "version does not record its Strata/oneDNN versions"

# 5. The subproject route: configure only (building all of Strata again takes minutes), with
#    GoogleTest hidden.
mkdir -p "$work/sub"
cat > "$work/sub/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.22)
project(sub_app LANGUAGES CXX)
add_subdirectory("$source_dir" strata)
add_executable(fmnist_app "$source_dir/examples/standalone/main.cc")
target_link_libraries(fmnist_app PRIVATE Strata::strata)
foreach(t gtest_main datasets_test fashion_mnist_bench train_fashion_mnist)
  if(TARGET \${t})
    message(FATAL_ERROR "subproject build defines \${t}: tests/examples/bench must be off")
  endif()
endforeach()
CMAKE
cmake -S "$work/sub" -B "$work/sub-build" -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON > "$work/sub.log" 2>&1 \
  || { cat "$work/sub.log"; fail "subproject configure"; }
# 6. The .deb (docs/guide.md: `cpack -G DEB`): headers, libraries, the CMake package, strata.pc, the binary,
#    and Depends on the runtime libraries it links.
(cd "$build_dir" && cpack -G DEB -B "$work/deb" > "$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack"; }
deb=$(ls "$work"/deb/strata_*_amd64.deb)
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/strata ./usr/include/strata/versioning/run/run.h ./usr/lib/libstrata_core.so.0.4.0 \
         ./usr/lib/cmake/Strata/StrataConfig.cmake ./usr/lib/pkgconfig/strata.pc; do
  echo "$contents" | grep -q " $f\( \|$\)" || fail "$f missing from $deb"
done
depends=$(dpkg-deb -f "$deb" Depends)
for p in libdnnl2 liblmdb0 libprotobuf32 libzstd1; do
  echo "$depends" | grep -q "$p" || fail "Depends lacks $p: $depends"
done

echo "install test passed: $(echo "$headers" | wc -l) headers, 5 versions on 4 branches"
