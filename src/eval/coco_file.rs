//! COCO keypoint files as untrusted input: an annotation file
//! (`person_keypoints_*.json`) and a results file, read with a size cap and
//! checked before anything is evaluated: 17 keypoint triples everywhere,
//! image ids unique, and every annotation on one of the file's images (a
//! file that breaks these would give an AP that silently means something
//! else).

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::cocoeval::{Detection, GroundTruth, NUM_KEYPOINTS};

/// An image of a COCO annotation file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CocoImage {
    pub id: u64,
    pub file_name: String,
    pub width: u32,
    pub height: u32,
}

/// A category of a COCO annotation file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CocoCategory {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub keypoints: Vec<String>,
    #[serde(default)]
    pub skeleton: Vec<[u32; 2]>,
}

/// A COCO keypoint annotation file (`person_keypoints_*.json`); unknown
/// fields are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CocoFile {
    pub images: Vec<CocoImage>,
    #[serde(default)]
    pub annotations: Vec<GroundTruth>,
    #[serde(default)]
    pub categories: Vec<CocoCategory>,
}

impl CocoFile {
    /// The annotations, for [`super::cocoeval::evaluate`].
    pub fn ground_truth(&self) -> Vec<GroundTruth> {
        self.annotations.clone()
    }

    /// Every image id, as the file lists them.
    pub fn image_ids(&self) -> Vec<u64> {
        self.images.iter().map(|i| i.id).collect()
    }
}

fn read(path: &Path) -> Result<String, String> {
    crate::files::read_text(path, crate::files::COCO).map_err(|e| e.to_string())
}

/// Image ids unique, and every annotation on one of the images: else the
/// evaluation would silently leave annotations out (pycocotools does), or
/// count an image twice.
fn check_images(file: &CocoFile) -> Result<(), String> {
    let mut ids = HashSet::with_capacity(file.images.len());
    let repeated: Vec<u64> = file
        .images
        .iter()
        .filter(|i| !ids.insert(i.id))
        .map(|i| i.id)
        .collect();
    if let Some(first) = repeated.first() {
        return Err(format!(
            "{} of the {} images repeat an image id already listed (first: id {first}); \
             every image id must appear once",
            repeated.len(),
            file.images.len()
        ));
    }
    let orphans: Vec<&GroundTruth> = file
        .annotations
        .iter()
        .filter(|a| !ids.contains(&a.image_id))
        .collect();
    if let Some(a) = orphans.first() {
        return Err(format!(
            "{} of the {} annotations are on an image id that is not among the {} images \
             (first: annotation {} on image id {}); they would be left out of the evaluation \
             without a word, so fix the file (or drop those annotations)",
            orphans.len(),
            file.annotations.len(),
            file.images.len(),
            a.id,
            a.image_id
        ));
    }
    Ok(())
}

fn check_keypoints(what: &str, keypoints: &[f64]) -> Result<(), String> {
    if keypoints.len() == 3 * NUM_KEYPOINTS {
        Ok(())
    } else {
        Err(format!(
            "{what}: {} keypoint values, expected {} (17 x, y, v triples)",
            keypoints.len(),
            3 * NUM_KEYPOINTS
        ))
    }
}

/// Parses a COCO keypoint annotation file; every annotation needs
/// `keypoints` (17 triples) and `num_keypoints`, and must be on one of the
/// file's images, whose ids must be unique.
pub fn parse_annotations(text: &str) -> Result<CocoFile, String> {
    let file: CocoFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    for a in &file.annotations {
        check_keypoints(&format!("annotation {}", a.id), &a.keypoints)?;
    }
    check_images(&file)?;
    Ok(file)
}

/// Reads a COCO keypoint annotation file (see [`parse_annotations`]); the
/// error does not name the file (the caller does).
pub fn load_annotations(path: impl AsRef<Path>) -> Result<CocoFile, String> {
    parse_annotations(&read(path.as_ref())?)
}

/// Parses a COCO results file: a list of `{image_id, category_id,
/// keypoints, score}` (other fields ignored), 17 keypoint triples each.
pub fn parse_results(text: &str) -> Result<Vec<Detection>, String> {
    let dets: Vec<Detection> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    for (i, d) in dets.iter().enumerate() {
        check_keypoints(&format!("result {i}"), &d.keypoints)?;
    }
    Ok(dets)
}

/// Reads a COCO results file (see [`parse_results`]).
pub fn load_results(path: impl AsRef<Path>) -> Result<Vec<Detection>, String> {
    let path = path.as_ref();
    read(path)
        .and_then(|text| parse_results(&text))
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_files() {
        let coco = parse_annotations(
            r#"{"info": {}, "images": [{"id": 7, "file_name": "a.jpg", "width": 4, "height": 3, "x": 1}],
                "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "iscrowd": 1,
                  "keypoints": [0,0,0, 0,0,0, 0,0,0, 0,0,0, 0,0,0, 0,0,0, 0,0,0, 0,0,0, 0,0,0,
                                0,0,0, 0,0,0, 0,0,0, 0,0,0, 0,0,0, 0,0,0, 0,0,0, 0,0,0],
                  "num_keypoints": 0, "area": 12.5, "bbox": [1, 2, 3, 4], "segmentation": {"counts": []}}],
                "categories": [{"id": 1, "name": "person", "supercategory": "person"}]}"#,
        )
        .unwrap();
        assert_eq!(coco.image_ids(), [7]);
        assert!(coco.annotations[0].iscrowd && coco.annotations[0].ignored());
        assert_eq!(coco.annotations[0].bbox, [1.0, 2.0, 3.0, 4.0]);
        let short = parse_results(
            r#"[{"image_id": 7, "category_id": 1, "keypoints": [1, 2, 3], "score": 0.5}]"#,
        );
        assert!(short.unwrap_err().contains("expected 51"));
        let dets = parse_results(&format!(
            r#"[{{"image_id": 7, "category_id": 1, "keypoints": {:?}, "score": 0.5, "bbox": [0, 0, 1, 1]}}]"#,
            vec![1.5; 51]
        ))
        .unwrap();
        assert_eq!(dets[0].score, 0.5);
    }

    #[test]
    fn inconsistent_annotation_files_are_refused_with_counts() {
        let kps = vec![0; 51];
        let ann = |id: u64, image: u64| {
            format!(
                r#"{{"id": {id}, "image_id": {image}, "category_id": 1, "keypoints": {kps:?},
                    "num_keypoints": 0, "area": 1, "bbox": [0, 0, 1, 1]}}"#
            )
        };
        let image = |id: u64| {
            format!(r#"{{"id": {id}, "file_name": "{id}.jpg", "width": 4, "height": 3}}"#)
        };
        let file = |images: &[u64], anns: &[(u64, u64)]| {
            let images: Vec<String> = images.iter().map(|&i| image(i)).collect();
            let anns: Vec<String> = anns.iter().map(|&(a, i)| ann(a, i)).collect();
            format!(
                r#"{{"images": [{}], "annotations": [{}]}}"#,
                images.join(","),
                anns.join(",")
            )
        };
        assert!(parse_annotations(&file(&[1, 2], &[(10, 1), (11, 2)])).is_ok());
        let e = parse_annotations(&file(&[1, 2, 1, 2, 3], &[(10, 1)])).unwrap_err();
        assert_eq!(
            e,
            "2 of the 5 images repeat an image id already listed (first: id 1); every image id \
             must appear once"
        );
        let e = parse_annotations(&file(&[1, 2], &[(10, 1), (11, 7), (12, 8)])).unwrap_err();
        assert!(
            e.starts_with(
                "2 of the 3 annotations are on an image id that is not among the 2 images \
                 (first: annotation 11 on image id 7)"
            ),
            "{e}"
        );
    }
}
