import { LabIcon } from '@jupyterlab/ui-components';

import gpuSvg from '../../style/icons/gpu.svg';

/** The GPU icon of the panel, the status bar and the commands. */
export const gpuIcon = new LabIcon({ name: 'jupyterlab-gpuscope:gpu', svgstr: gpuSvg });
