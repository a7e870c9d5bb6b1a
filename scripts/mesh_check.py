#!/usr/bin/env python3
"""Independent check of exported models with third-party libraries.

Usage: .venv/bin/python scripts/mesh_check.py FILE [FILE ...]   (create .venv with scripts/python_env.sh)

Prints one JSON document: for each file (STL, OBJ, 3MF, GLB) and each object in it, the triangle count,
whether trimesh finds it watertight and winding-consistent, its volume (in the file's own units: mm for
STL/OBJ/3MF, metres for GLB as glTF requires) and manifold3d's status. For 3MF it also says whether lib3mf
reads the package without error or warning and what it reports: unit, object names, base materials (name,
display colour). A file that cannot be read gets an "error" entry instead of objects; the exit code is 0
either way, so the caller judges the figures.
"""
import json
import os
import sys

import numpy as np
import trimesh
import manifold3d


def manifold_status(vertices, faces):
    """manifold3d's verdict on the mesh as a string ("NoError" when it is a valid manifold)."""
    mesh = manifold3d.Mesh(vert_properties=np.asarray(vertices, dtype=np.float32),
                           tri_verts=np.asarray(faces, dtype=np.uint32))
    status = manifold3d.Manifold(mesh).status()
    return getattr(status, "name", str(status).split(".")[-1])


def describe(name, mesh):
    """Figures for one trimesh.Trimesh (vertices as stored in the file; welded for STL)."""
    return {
        "name": name,
        "triangles": int(len(mesh.faces)),
        "vertices": int(len(mesh.vertices)),
        "watertight": bool(mesh.is_watertight),
        "winding_consistent": bool(mesh.is_winding_consistent),
        "volume": float(mesh.volume),
        "manifold3d": manifold_status(mesh.vertices, mesh.faces),
    }


def check_trimesh_file(path):
    # STL stores every triangle's corners separately: let trimesh weld them (process=True).
    kwargs = {"process": path.lower().endswith(".stl")}
    if path.lower().endswith(".obj"):
        kwargs.update(split_objects=True, group_material=False)
    scene = trimesh.load(path, force="scene", **kwargs)
    objects = []
    for node in scene.graph.nodes_geometry:
        transform, geometry = scene.graph[node]
        mesh = scene.geometry[geometry].copy()
        mesh.apply_transform(transform)
        objects.append(describe(str(node), mesh))
    return {"objects": objects}


def check_3mf(path):
    import lib3mf

    wrapper = lib3mf.get_wrapper()
    model = wrapper.CreateModel()
    reader = model.QueryReader("3mf")
    result = {"lib3mf_error": None, "lib3mf_warnings": []}
    try:
        reader.ReadFromFile(path)
    except Exception as e:  # lib3mf raises ELib3MFException on malformed packages
        result["lib3mf_error"] = str(e)
        return result
    for i in range(reader.GetWarningCount()):
        result["lib3mf_warnings"].append(str(reader.GetWarning(i)))
    unit = model.GetUnit()
    result["unit"] = getattr(unit, "name", str(unit).split(".")[-1]).lower()
    materials = {}
    groups = model.GetBaseMaterialGroups()
    while groups.MoveNext():
        group = groups.GetCurrentBaseMaterialGroup()
        for pid in group.GetAllPropertyIDs():
            c = group.GetDisplayColor(pid)
            materials[(group.GetUniqueResourceID(), pid)] = {
                "name": group.GetName(pid),
                "color": "#%02X%02X%02X%02X" % (c.Red, c.Green, c.Blue, c.Alpha),
            }
    objects = []
    meshes = model.GetMeshObjects()
    while meshes.MoveNext():
        obj = meshes.GetCurrentMeshObject()
        vertices = np.array([list(v.Coordinates) for v in obj.GetVertices()], dtype=np.float64)
        faces = np.array([list(t.Indices) for t in obj.GetTriangleIndices()], dtype=np.int64)
        entry = describe(obj.GetName(), trimesh.Trimesh(vertices, faces, process=False))
        resource, pid, has = obj.GetObjectLevelProperty()  # (unique resource id, property id, has)
        entry["material"] = materials.get((resource, pid)) if has else None
        objects.append(entry)
    result["objects"] = objects
    return result


def check(path):
    entry = {"file": path, "format": os.path.splitext(path)[1].lower().lstrip(".")}
    try:
        if entry["format"] == "3mf":
            entry.update(check_3mf(path))
        else:
            entry.update(check_trimesh_file(path))
    except Exception as e:  # report, do not crash: the caller asserts on the JSON
        entry["error"] = f"{type(e).__name__}: {e}"
    return entry


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print(json.dumps({"files": [check(p) for p in sys.argv[1:]]}, indent=1))


if __name__ == "__main__":
    main()
