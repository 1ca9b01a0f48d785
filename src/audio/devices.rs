//! Input devices: listing them for a picker and resolving a remembered
//! choice. Enumeration opens each device briefly, so call it from a
//! blocking context (not an async task's hot path).

use cpal::traits::{DeviceTrait, HostTrait};
use serde::{Deserialize, Serialize};

use super::error::{AudioError, Result};

/// One microphone (or other capture device) as shown in a picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputDevice {
    /// Stable identifier to remember (`[audio] input_device`); on Linux the
    /// ALSA PCM name such as `default` or `hw:CARD=USB,DEV=0`.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Whether this is the system's default input.
    pub is_default: bool,
}

/// Every capture device the audio host reports. An empty list is not an
/// error: a machine without a microphone simply has none.
///
/// # Errors
/// `DeviceFailed` when the audio host itself cannot be queried.
pub fn list_input_devices() -> Result<Vec<InputDevice>> {
    let host = cpal::default_host();
    let default_id = host
        .default_input_device()
        .and_then(|d| d.id().ok())
        .map(|id| id.id().to_string());
    let devices = host.input_devices().map_err(|e| AudioError::DeviceFailed {
        device: "audio host".into(),
        reason: e.to_string(),
    })?;
    Ok(devices
        .filter_map(|d| {
            let id = d.id().ok()?.id().to_string();
            let name = d
                .description()
                .map(|desc| desc.name().to_string())
                .unwrap_or_else(|_| id.clone());
            Some(InputDevice {
                is_default: default_id.as_deref() == Some(id.as_str()),
                id,
                name,
            })
        })
        .collect())
}

/// The device called `wanted` (by id or name), else the default input.
///
/// # Errors
/// `DeviceNotFound` for a name no device has, `NoMicrophone` when there is
/// no default input at all.
pub(crate) fn resolve(wanted: Option<&str>) -> Result<(cpal::Device, String)> {
    let host = cpal::default_host();
    let Some(wanted) = wanted.filter(|w| !w.is_empty()) else {
        let device = host
            .default_input_device()
            .ok_or_else(|| AudioError::NoMicrophone {
                device: "default".into(),
            })?;
        let label = label(&device);
        return Ok((device, label));
    };
    let matches = |d: &cpal::Device| {
        d.id().is_ok_and(|id| id.id() == wanted)
            || d.description().is_ok_and(|desc| desc.name() == wanted)
    };
    // All devices, not `input_devices()`: that opens every PCM to test it.
    let found = host.devices().ok().and_then(|mut it| it.find(matches));
    match found {
        Some(d) => Ok((d, wanted.to_string())),
        None => Err(AudioError::DeviceNotFound {
            name: wanted.to_string(),
        }),
    }
}

fn label(device: &cpal::Device) -> String {
    device
        .id()
        .map(|id| id.id().to_string())
        .unwrap_or_else(|_| "default".into())
}
