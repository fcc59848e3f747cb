"""The built-in palettes, selectable by name: `voc`, `cityscapes`, `camvid`, `camvid11`, `suim`, `deepglobe`,
`isprs`."""
from __future__ import annotations

from ..errors import UsageError
from .model import Palette, PaletteClass, _colour, voc_colormap


VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)


def _voc() -> Palette:
    cmap = voc_colormap(256)
    classes = [PaletteClass(name, _colour(cmap[i]), i) for i, name in enumerate(VOC_CLASSES)]
    # 255 is the "boundary / difficult" band, drawn (224, 224, 192).
    classes.append(PaletteClass("boundary", _colour(cmap[255]), 255, ignore=True))
    return Palette("voc", tuple(classes), 255, "voc")


# Cityscapes labels (cityscapesScripts helpers/labels.py): name, labelId, trainId, colour.
# Colour masks (gtFine_color) use the colours; labelIds masks the ids; trainId 255 = ignore.
_CITYSCAPES = (
    ("unlabeled", 0, 255, (0, 0, 0)), ("ego vehicle", 1, 255, (0, 0, 0)),
    ("rectification border", 2, 255, (0, 0, 0)), ("out of roi", 3, 255, (0, 0, 0)),
    ("static", 4, 255, (0, 0, 0)), ("dynamic", 5, 255, (111, 74, 0)), ("ground", 6, 255, (81, 0, 81)),
    ("road", 7, 0, (128, 64, 128)), ("sidewalk", 8, 1, (244, 35, 232)), ("parking", 9, 255, (250, 170, 160)),
    ("rail track", 10, 255, (230, 150, 140)), ("building", 11, 2, (70, 70, 70)), ("wall", 12, 3, (102, 102, 156)),
    ("fence", 13, 4, (190, 153, 153)), ("guard rail", 14, 255, (180, 165, 180)), ("bridge", 15, 255, (150, 100, 100)),
    ("tunnel", 16, 255, (150, 120, 90)), ("pole", 17, 5, (153, 153, 153)),
    # polegroup shares pole's colour; a colour mask cannot tell them apart, so it keeps only its id.
    ("polegroup", 18, 255, None), ("traffic light", 19, 6, (250, 170, 30)), ("traffic sign", 20, 7, (220, 220, 0)),
    ("vegetation", 21, 8, (107, 142, 35)), ("terrain", 22, 9, (152, 251, 152)), ("sky", 23, 10, (70, 130, 180)),
    ("person", 24, 11, (220, 20, 60)), ("rider", 25, 12, (255, 0, 0)), ("car", 26, 13, (0, 0, 142)),
    ("truck", 27, 14, (0, 0, 70)), ("bus", 28, 15, (0, 60, 100)), ("caravan", 29, 255, (0, 0, 90)),
    ("trailer", 30, 255, (0, 0, 110)), ("train", 31, 16, (0, 80, 100)), ("motorcycle", 32, 17, (0, 0, 230)),
    ("bicycle", 33, 18, (119, 11, 32)),
)


def _cityscapes() -> Palette:
    # Listed train classes first so that each index's first entry is its real class.
    rows = sorted(_CITYSCAPES, key=lambda r: (r[2] == 255, r[2], r[1]))
    classes = tuple(PaletteClass(name, colour, train_id, train_id == 255, label_id)
                    for name, label_id, train_id, colour in rows)
    return Palette("cityscapes", classes, 255, "cityscapes")


# CamVid's 32 classes (class_dict.csv of the original release) and the 11-class
# grouping SegNet trains on; SegNet's index masks store void as 11.
_CAMVID32 = (
    ("Animal", (64, 128, 64), "Pedestrian"), ("Archway", (192, 0, 128), "Building"),
    ("Bicyclist", (0, 128, 192), "Bicyclist"), ("Bridge", (0, 128, 64), "Building"),
    ("Building", (128, 0, 0), "Building"), ("Car", (64, 0, 128), "Car"),
    ("CartLuggagePram", (64, 0, 192), "Pedestrian"), ("Child", (192, 128, 64), "Pedestrian"),
    ("Column_Pole", (192, 192, 128), "Pole"), ("Fence", (64, 64, 128), "Fence"),
    ("LaneMkgsDriv", (128, 0, 192), "Road"), ("LaneMkgsNonDriv", (192, 0, 64), "Road"),
    ("Misc_Text", (128, 128, 64), "SignSymbol"), ("MotorcycleScooter", (192, 0, 192), "Bicyclist"),
    ("OtherMoving", (128, 64, 64), "Car"), ("ParkingBlock", (64, 192, 128), "Pavement"),
    ("Pedestrian", (64, 64, 0), "Pedestrian"), ("Road", (128, 64, 128), "Road"),
    ("RoadShoulder", (128, 128, 192), "Pavement"), ("Sidewalk", (0, 0, 192), "Pavement"),
    ("SignSymbol", (192, 128, 128), "SignSymbol"), ("Sky", (128, 128, 128), "Sky"),
    ("SUVPickupTruck", (64, 128, 192), "Car"), ("TrafficCone", (0, 0, 64), "Pole"),
    ("TrafficLight", (0, 64, 64), "SignSymbol"), ("Train", (192, 64, 128), "Car"),
    ("Tree", (128, 128, 0), "Tree"), ("Truck_Bus", (192, 128, 192), "Car"),
    ("Tunnel", (64, 0, 64), "Building"), ("VegetationMisc", (192, 192, 0), "Tree"),
    ("Void", (0, 0, 0), None), ("Wall", (64, 192, 0), "Building"),
)
_CAMVID11 = (  # SegNet order, names and colours
    ("Sky", (128, 128, 128)), ("Building", (128, 0, 0)), ("Pole", (192, 192, 128)), ("Road", (128, 64, 128)),
    ("Pavement", (60, 40, 222)), ("Tree", (128, 128, 0)), ("SignSymbol", (192, 128, 128)),
    ("Fence", (64, 64, 128)), ("Car", (64, 0, 128)), ("Pedestrian", (64, 64, 0)), ("Bicyclist", (0, 128, 192)),
)


def _camvid() -> Palette:
    classes, index = [], 0
    for name, colour, _group in _CAMVID32:
        if name == "Void":
            classes.append(PaletteClass(name, colour, 255, ignore=True))
        else:
            classes.append(PaletteClass(name, colour, index))
            index += 1
    return Palette("camvid", tuple(classes), 255, "camvid")


def _camvid11() -> Palette:
    group_index = {name: i for i, (name, _) in enumerate(_CAMVID11)}
    classes = [PaletteClass(name, colour, i, id=i) for i, (name, colour) in enumerate(_CAMVID11)]
    classes.append(PaletteClass("Void", (0, 0, 0), 255, ignore=True, id=len(_CAMVID11)))
    seen = {c.color for c in classes}
    for name, colour, group in _CAMVID32:
        if group is not None and colour not in seen:
            classes.append(PaletteClass(name, colour, group_index[group]))
            seen.add(colour)
    return Palette("camvid11", tuple(classes), 255, "camvid11")

# SUIM (underwater imagery): each class is a corner of the RGB cube, code 4*R + 2*G + B (README and
# utils/data_utils.py of the dataset's repository), so the index is the code.
_SUIM = (
    ("background waterbody", (0, 0, 0)), ("human divers", (0, 0, 255)), ("plants and sea-grass", (0, 255, 0)),
    ("wrecks and ruins", (0, 255, 255)), ("robots and instruments", (255, 0, 0)),
    ("reefs and invertebrates", (255, 0, 255)), ("fish and vertebrates", (255, 255, 0)),
    ("sea-floor and rocks", (255, 255, 255)),
)
# DeepGlobe land cover: the challenge's class order; "unknown" (clouds and others) is left out of its mIoU.
_DEEPGLOBE = (
    ("urban land", (0, 255, 255)), ("agriculture land", (255, 255, 0)), ("rangeland", (255, 0, 255)),
    ("forest land", (0, 255, 0)), ("water", (0, 0, 255)), ("barren land", (255, 255, 255)),
)


# ISPRS Potsdam and Vaihingen, in MMSegmentation's class order; black marks the eroded class
# boundaries of the `_noBoundary` labels, left out of the benchmark (MMSeg: reduce_zero_label).
_ISPRS = (
    ("impervious surfaces", (255, 255, 255)), ("building", (0, 0, 255)), ("low vegetation", (0, 255, 255)),
    ("tree", (0, 255, 0)), ("car", (255, 255, 0)), ("clutter", (255, 0, 0)),
)


def _isprs() -> Palette:
    classes = [PaletteClass(name, colour, i) for i, (name, colour) in enumerate(_ISPRS)]
    classes.append(PaletteClass("boundary", (0, 0, 0), 255, ignore=True))
    return Palette("isprs", tuple(classes), 255, "isprs")


def _suim() -> Palette:
    return Palette("suim", tuple(PaletteClass(name, colour, i) for i, (name, colour) in enumerate(_SUIM)), 255, "suim")


def _deepglobe() -> Palette:
    classes = [PaletteClass(name, colour, i) for i, (name, colour) in enumerate(_DEEPGLOBE)]
    classes.append(PaletteClass("unknown", (0, 0, 0), 255, ignore=True))
    return Palette("deepglobe", tuple(classes), 255, "deepglobe")


# Oxford-IIIT Pet trimaps (the dataset's README): 1 foreground (the pet), 2 background, 3 not classified (the
# band along the outline). Stored values are ids: background 0, pet 1, and the band ignored.
OXFORD_PET_TRIMAP_VALUES = (1, 2, 3)


def _oxford_pet() -> Palette:
    classes = (PaletteClass("background", (0, 0, 0), 0, id=2), PaletteClass("pet", (128, 0, 0), 1, id=1),
               PaletteClass("not classified", (224, 224, 192), 255, ignore=True, id=3))
    return Palette("oxford_pet", classes, 255, "oxford_pet")


# KITTI road (data_road's gt_image_2): magenta road, red elsewhere in the valid area, black outside it (the
# devkit reads road from the blue channel and the valid area from the red one, and scores the valid area only).
def _kitti_road() -> Palette:
    classes = (PaletteClass("not road", (255, 0, 0), 0), PaletteClass("road", (255, 0, 255), 1),
               PaletteClass("invalid", (0, 0, 0), 255, ignore=True))
    return Palette("kitti_road", classes, 255, "kitti_road")


# Binary masks however stored: 0/1 as they are, 0/255 with --remap ids, black/white colour masks by colour, the
# object ids of instance masks with --remap 1-65535:1.
def _binary() -> Palette:
    classes = (PaletteClass("background", (0, 0, 0), 0, id=0), PaletteClass("foreground", (255, 255, 255), 1, id=255))
    return Palette("binary", classes, 255, "binary")


ADE20K_PREFIXES = ("ADE_train_", "ADE_val_", "ADE_test_")  # SceneParsing's file names
CAMVID_SEQUENCES = ("0001TP_", "0006R0_", "0016E5_", "Seq05VD_")  # CamVid's frames are named by their sequence


def _ade20k() -> Palette:
    from .ade20k import ADE20K_CLASSES

    classes = [PaletteClass(name, colour, i, id=i + 1) for i, (name, colour) in enumerate(ADE20K_CLASSES)]
    classes.append(PaletteClass("other", (0, 0, 0), 255, ignore=True, id=0))
    return Palette("ade20k", tuple(classes), 255, "ade20k")


_BUILDERS = {"voc": _voc, "cityscapes": _cityscapes, "camvid": _camvid, "camvid11": _camvid11, "suim": _suim,
             "deepglobe": _deepglobe, "isprs": _isprs, "oxford_pet": _oxford_pet,
             "ade20k": _ade20k, "kitti_road": _kitti_road, "binary": _binary}
BUILTIN_PALETTES: tuple[str, ...] = tuple(_BUILDERS)


def builtin_palette(name: str) -> Palette:
    """A fresh copy each call: building one takes well under a millisecond
    (benchmarks/results/hidden_state.json), so no process-wide cache is kept."""
    if name not in _BUILDERS:
        raise UsageError(None, f"no built-in palette {name!r} (built-ins: {', '.join(BUILTIN_PALETTES)})")
    return _BUILDERS[name]()
