"""Figures for the blog's plots and beyond: each function returns a matplotlib ``Figure``.

From the blog post:

* :func:`dataset` -- the data as a scatter in the blog's red-yellow-green
  colormap (the 4-class and the mod-2 views);
* :func:`loss_curve` -- training and validation loss per epoch for one run;
  :func:`loss_band` -- the mean over seeds with a confidence band, for a study;
* :func:`mistakes` -- each point sized by how wrong its prediction is
  (``s = 15 * (|sign(pred - true)| + 0.1)``), coloured by prediction;
* :func:`update_grid` -- one small panel per parameter with its update
  ``W(t+1) - W(t)`` per epoch (the 18 panels of the [2, 2, 4] network).

Beyond the blog:

* :func:`boundary_grid` -- decision boundaries as small multiples (rows
  initializers, columns activations);
* :func:`accuracy_heatmap` -- mean validation accuracy per initializer and
  activation, one panel per optimizer, annotated with mean ± CI and the
  best/tied marks;
* :func:`layer_histograms` -- per-layer histograms of activations and
  back-propagated gradients at initialization and after training (Glorot &
  Bengio 2010, figures 3-7); :func:`variance_curves` -- per-layer variances;
* :func:`propagation`, :func:`record`, :func:`spectrum` -- the figures of
  :mod:`initlab.diagnostics`: per-layer statistics at initialization, their
  evolution during training, Jacobian singular values;
* :func:`phase_diagram` -- the mean-field order-to-chaos diagram with the
  initializers marked (:mod:`initlab.meanfield`); :func:`edge_of_chaos` -- where
  ``chi_1`` crosses 1 and where it jumps; :func:`trainability` -- accuracy over
  ``(sigma_w^2, depth)`` with the ``c xi`` curve (Schoenholz et al. 2017);
* :func:`panels` -- small multiples of :class:`Lines` and :class:`Hist` from
  tidy tables, the vocabulary the experiments' figures are written in;
* :func:`animate_training` -- a GIF of the decision boundary and the loss
  during training, shown inline in notebooks.

The figures live in one module per subject: :mod:`~initlab.plots.data`,
:mod:`~initlab.plots.training`, :mod:`~initlab.plots.studies`,
:mod:`~initlab.plots.layers`, :mod:`~initlab.plots.theory` and
:mod:`~initlab.plots.panels`, all drawn in the one style of
:mod:`~initlab.plots._style`.  Theory, diagnostics and experiments return
data; only this package draws.

Figures are built with :class:`matplotlib.figure.Figure`, never through
``pyplot``: nothing is shown, nothing is registered globally, and the module
works with any backend (Agg included).  In a notebook, a returned figure
displays itself (run ``%matplotlib inline`` first).  Palettes are
colour-blind safe (Okabe & Ito 2008, ``cividis``) except where the blog's
colormap is reproduced on purpose (``cmap="blog"``).
"""

# each subject module lists its figures in __all__: a new figure is added there alone
from . import data as _data
from . import layers as _layers
from . import panels as _panels
from . import studies as _studies
from . import theory as _theory
from . import training as _training
from ._inputs import _params_at  # noqa: F401 (also reached as initlab.plots._params_at)
from ._style import BLOG_CMAP, DPI, FONT, OKABE_ITO, PAGE_WIDTH, STYLE, class_cmap
from .data import *  # noqa: F403
from .data import _mesh  # noqa: F401 (as above)
from .layers import *  # noqa: F403
from .panels import *  # noqa: F403
from .studies import *  # noqa: F403
from .theory import *  # noqa: F403
from .training import *  # noqa: F403

__all__ = [
    "BLOG_CMAP",
    "DPI",
    "FONT",
    "PAGE_WIDTH",
    "OKABE_ITO",
    "STYLE",
    "class_cmap",
    *_data.__all__,
    *_layers.__all__,
    *_panels.__all__,
    *_studies.__all__,
    *_theory.__all__,
    *_training.__all__,
]
