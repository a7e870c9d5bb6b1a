#!/usr/bin/env python3
"""Benchmarks medprint's isosurface extractor against its peers on a clinical-size CT.

Uses .venv (repo root), created or updated by scripts/python_env.sh; it resamples ../shared/data/ct-torso-3mm/ct.nii.gz to a
0.75 mm grid (488x404x448 int16, ~88 Mvoxel) saved as bench-out/torso-0.75mm.nii, then times,
in this run, each tool in its own process (so peak RSS is per tool):
  * VTK vtkFlyingEdges3D at 200 HU (normals, gradients and scalars off), best of 3;
  * scikit-image measure.marching_cubes at 200 HU, one run (it takes tens of seconds);
  * medprint (crates/mesh/examples/isosurface_bench), best of 3;
and then surface conditioning of that 200 HU surface, one run each:
  * VTK vtkCleanPolyData + vtkWindowedSincPolyDataFilter (10 iterations, pass band 0.1) +
    vtkQuadricDecimation to 25 % (without the clean step vtkQuadricDecimation stalls: the
    200 HU surface of integer data has coincident points and zero-area triangles where samples
    equal the iso value exactly, and it then removed 18 of 1.8 M triangles);
  * medprint Taubin smoothing (10 iterations, volume restored) + decimation to 25 %
    (isosurface_bench --condition), which also times the whole default `condition` chain.
Thread counts are left at each tool's default. Run via scripts/bench.sh (builds the example).
"""
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(REPO, ".venv")
VENV_PY = os.path.join(VENV, "bin", "python")
PYTHON_ENV = os.path.join(REPO, "scripts", "python_env.sh")
SOURCE = os.path.join(REPO, "..", "shared", "data", "ct-torso-3mm", "ct.nii.gz")
OUT_DIR = os.path.join(REPO, "bench-out")
VOLUME = os.path.join(OUT_DIR, "torso-0.75mm.nii")
TARGET_SPACING_MM = 0.75
ISO_HU = 200.0


def ensure_venv():
    """Re-executes this script inside .venv, after scripts/python_env.sh has made it complete."""
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    subprocess.check_call(["bash", PYTHON_ENV])
    os.execv(VENV_PY, [VENV_PY, os.path.abspath(__file__), *sys.argv[1:]])


def resample_volume():
    """Writes VOLUME (int16, LPS->RAS affine kept by nibabel) unless it already exists."""
    import nibabel as nib
    import numpy as np
    from scipy import ndimage

    if os.path.exists(VOLUME):
        return
    os.makedirs(OUT_DIR, exist_ok=True)
    img = nib.load(SOURCE)
    data = np.asanyarray(img.dataobj).astype(np.int16)
    spacing = np.asarray(img.header.get_zooms()[:3], dtype=float)
    factors = spacing / TARGET_SPACING_MM
    t0 = time.perf_counter()
    # grid_mode=True: voxel *edges* are aligned, so the new spacing is exactly 0.75 mm.
    out = ndimage.zoom(data, factors, order=1, grid_mode=True, mode="nearest").astype(np.int16)
    print(f"resampled {data.shape} -> {out.shape} in {time.perf_counter() - t0:.1f} s", flush=True)
    affine = img.affine.copy()
    # New voxel centre o sits at old index (o + 0.5) / f - 0.5.
    shift = 0.5 / factors - 0.5
    affine[:3, 3] = img.affine[:3, :3] @ shift + img.affine[:3, 3]
    affine[:3, :3] = img.affine[:3, :3] / factors
    new = nib.Nifti1Image(out, affine)
    new.header.set_data_dtype(np.int16)
    new.header.set_xyzt_units("mm")
    nib.save(new, VOLUME)


def load_volume():
    import nibabel as nib
    import numpy as np

    img = nib.load(VOLUME)
    return np.asanyarray(img.dataobj), img


def worker_vtk():
    import vtk
    from vtk.util import numpy_support

    data, img = load_volume()
    image = vtk.vtkImageData()
    image.SetDimensions(*data.shape)
    image.SetSpacing(*[float(z) for z in img.header.get_zooms()[:3]])
    scalars = numpy_support.numpy_to_vtk(data.ravel(order="F"), deep=False)
    image.GetPointData().SetScalars(scalars)
    fe = vtk.vtkFlyingEdges3D()
    fe.SetInputData(image)
    fe.SetValue(0, ISO_HU)
    fe.ComputeNormalsOff()
    fe.ComputeGradientsOff()
    fe.ComputeScalarsOff()
    best = float("inf")
    for _ in range(3):
        fe.Modified()
        t0 = time.perf_counter()
        fe.Update()
        best = min(best, time.perf_counter() - t0)
    out = fe.GetOutput()
    threads = vtk.vtkSMPTools.GetEstimatedNumberOfThreads()
    print(json.dumps({"seconds": best, "triangles": out.GetNumberOfPolys(),
                      "vertices": out.GetNumberOfPoints(), "note": f"best of 3, {threads} SMP threads"}))


def vtk_isosurface():
    """The 200 HU vtkFlyingEdges3D surface of the bench volume (untimed input of the conditioning peer)."""
    import vtk
    from vtk.util import numpy_support

    data, img = load_volume()
    image = vtk.vtkImageData()
    image.SetDimensions(*data.shape)
    image.SetSpacing(*[float(z) for z in img.header.get_zooms()[:3]])
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(data.ravel(order="F"), deep=False))
    fe = vtk.vtkFlyingEdges3D()
    fe.SetInputData(image)
    fe.SetValue(0, ISO_HU)
    fe.ComputeNormalsOff()
    fe.ComputeGradientsOff()
    fe.ComputeScalarsOff()
    fe.Update()
    surface = vtk.vtkPolyData()
    surface.DeepCopy(fe.GetOutput())
    return surface


def worker_vtk_condition():
    """Times cleaning (merge coincident points, drop degenerate triangles), windowed-sinc
    smoothing (10 iterations) and quadric decimation to 25 % of the triangles."""
    import vtk

    surface = vtk_isosurface()
    t0 = time.perf_counter()
    cleaner = vtk.vtkCleanPolyData()
    cleaner.SetInputData(surface)
    smoother = vtk.vtkWindowedSincPolyDataFilter()
    smoother.SetInputConnection(cleaner.GetOutputPort())
    smoother.SetNumberOfIterations(10)
    smoother.SetPassBand(0.1)
    smoother.NonManifoldSmoothingOn()
    smoother.NormalizeCoordinatesOn()
    smoother.Update()
    decimator = vtk.vtkQuadricDecimation()
    decimator.SetInputConnection(smoother.GetOutputPort())
    decimator.SetTargetReduction(0.75)
    decimator.Update()
    seconds = time.perf_counter() - t0
    out = decimator.GetOutput()
    print(json.dumps({"seconds": seconds, "triangles": out.GetNumberOfPolys(), "vertices": out.GetNumberOfPoints(),
                      "note": f"1 run, from {surface.GetNumberOfPolys()} triangles"}))


def worker_skimage():
    from skimage import measure

    data, img = load_volume()
    spacing = tuple(float(z) for z in img.header.get_zooms()[:3])
    t0 = time.perf_counter()
    verts, faces, _, _ = measure.marching_cubes(data, ISO_HU, spacing=spacing)
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "triangles": int(len(faces)), "vertices": int(len(verts)),
                      "note": "1 run"}))


def run_measured(cmd):
    """Runs cmd, returns (parsed JSON from its last stdout line, peak RSS in MiB)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=REPO)
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed with exit code {proc.returncode}")
    last = [line for line in stdout.splitlines() if line.strip()][-1]
    return json.loads(last), usage.ru_maxrss / 1024.0  # ru_maxrss is KiB on Linux


def medprint_example_cmd():
    import nibabel as nib

    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    binary = os.path.join(target, "release", "examples", "isosurface_bench")
    if not os.path.exists(binary):
        sys.exit(f"{binary} missing: run scripts/bench.sh (cargo build --release --examples -p medprint-mesh)")
    img = nib.load(VOLUME)
    if img.header.get_data_dtype() != "<i2":
        sys.exit("bench volume is not little-endian int16")
    dims = [str(n) for n in img.shape[:3]]
    zooms = [str(float(z)) for z in img.header.get_zooms()[:3]]
    offset = str(int(img.dataobj.offset))  # the header's vox_offset may read 0 for nibabel-written files
    return [binary, VOLUME, *dims, str(ISO_HU), offset, *zooms]


def time_medprint_convert():
    """Times the whole `medprint convert` (load, segment, surface, condition, export, previews)
    on the benchmark volume, as a user runs it. Returns (result dict, peak RSS MiB)."""
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    binary = os.path.join(target, "release", "medprint")
    if not os.path.exists(binary):
        sys.exit(f"{binary} missing: run scripts/bench.sh (cargo build --release -p medprint-cli)")
    out_dir = os.path.join(OUT_DIR, "convert")
    cmd = [binary, "convert", VOLUME, "--out", out_dir, "--modality", "ct", "--json"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=REPO)
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd} failed with exit code {os.waitstatus_to_exitcode(status)}")
    report = json.loads(stdout)
    stages = ", ".join(f"{k} {v / 1e3:.2f}s" for k, v in report["timings_ms"].items())
    result = {"seconds": seconds, "triangles": report["model"]["triangles"],
              "vertices": report["model"]["vertices"], "note": f"one run, wall clock of the process; {stages}"}
    input_mib = os.path.getsize(VOLUME) / 2**20
    print(f"convert: peak RSS {usage.ru_maxrss / 1024.0:.0f} MiB = "
          f"{usage.ru_maxrss / 1024.0 / input_mib:.2f}x the input volume ({input_mib:.0f} MiB)", flush=True)
    return result, usage.ru_maxrss / 1024.0


def main():
    ensure_venv()
    if len(sys.argv) == 2 and sys.argv[1] == "--worker-vtk":
        return worker_vtk()
    if len(sys.argv) == 2 and sys.argv[1] == "--worker-skimage":
        return worker_skimage()
    if len(sys.argv) == 2 and sys.argv[1] == "--worker-vtk-condition":
        return worker_vtk_condition()

    resample_volume()
    me = [sys.executable, os.path.abspath(__file__)]
    rows = []
    for name, cmd in [
        ("medprint extract_isosurface", medprint_example_cmd()),
        ("vtkFlyingEdges3D", me + ["--worker-vtk"]),
        ("skimage marching_cubes", me + ["--worker-skimage"]),
    ]:
        print(f"timing {name} ...", flush=True)
        result, rss = run_measured(cmd)
        rows.append((name, result, rss))
    conditioning = []
    for name, cmd in [
        ("medprint smooth + decimate", [medprint_example_cmd()[0], "--condition", *medprint_example_cmd()[1:]]),
        ("VTK clean + sinc + quadric", me + ["--worker-vtk-condition"]),
    ]:
        print(f"timing {name} ...", flush=True)
        result, rss = run_measured(cmd)
        if "condition_seconds" in result:
            result["note"] = (f"1 run, from {result['input_triangles']} triangles; whole condition() "
                              f"{result['condition_seconds']:.2f} s -> {result['condition_triangles']} triangles")
        conditioning.append((name, result, rss))
    convert = time_medprint_convert()
    if convert is not None:
        rows.append(("medprint convert (pipeline)", *convert))

    ours = rows[0][1]["seconds"]
    print(f"\nvolume {VOLUME} (488x404x448 int16 expected), iso {ISO_HU} HU, {os.cpu_count()} CPUs")
    print(f"{'tool':30} {'seconds':>9} {'triangles':>11} {'vertices':>11} {'x slower':>9} {'peak RSS MiB':>13}  note")
    for name, r, rss in rows:
        print(f"{name:30} {r['seconds']:9.3f} {r['triangles']:11d} {r['vertices']:11d} "
              f"{r['seconds'] / ours:9.2f} {rss:13.0f}  {r.get('note', 'best of 3')}")
    print("(x slower = seconds / medprint seconds: the speed-up of medprint over that tool)")
    ours = conditioning[0][1]["seconds"]
    print(f"\nconditioning of the {ISO_HU} HU surface (smooth 10 iterations + decimate to 25 %)")
    print(f"{'tool':30} {'seconds':>9} {'triangles':>11} {'vertices':>11} {'x slower':>9} {'peak RSS MiB':>13}  note")
    for name, r, rss in conditioning:
        print(f"{name:30} {r['seconds']:9.3f} {r['triangles']:11d} {r['vertices']:11d} "
              f"{r['seconds'] / ours:9.2f} {rss:13.0f}  {r.get('note', '')}")


if __name__ == "__main__":
    main()
