"""Models of the products app, one module per concept."""

from products.models.apikey import ApiKey
from products.models.comparison import Comparison, ComparisonPair, ComparisonVote
from products.models.dataset import Dataset, DatasetFormat, DatasetUpload, DatasetVersion, Verdict
from products.models.generation import FeedbackEvent, Generation
from products.models.product import Product, ProductVersion
from products.models.registered_model import RegisteredModel
from products.models.release import Release, UsageRollup

__all__ = ["Generation", "ProductVersion", "Dataset", "Product"]
__all__ += ["DatasetFormat", "DatasetUpload", "DatasetVersion", "Verdict"]
__all__ += ["ApiKey", "FeedbackEvent"]
__all__ += ["Comparison", "ComparisonPair", "ComparisonVote"]
__all__ += ["Release", "UsageRollup"]
__all__ += ["RegisteredModel"]
