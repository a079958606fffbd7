/**
 * What a device id may be, in the one place the language says it: QEMU's own rule for ids
 * (`-device …,id=`), a letter and then letters, digits, "-", "." and "_". The checker, the import,
 * `machinec rename`, the editor's rename and `lock --regenerate mac:DEVICE` all ask here.
 */
export const DEVICE_ID = /^[A-Za-z][A-Za-z0-9_.-]*$/;

/** Whether `id` may name a device. */
export const isDeviceId = (id: string): boolean => DEVICE_ID.test(id);

/** The rule in a user's words, for a hint. */
export const DEVICE_ID_RULE = 'an id starts with a letter and holds only letters, digits, "-", "." and "_"';
